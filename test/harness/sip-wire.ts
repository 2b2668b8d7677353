/**
 * Raw SIP on the wire for fault tests: hand-written requests, and TCP/UDP peers bound to
 * a chosen loopback address that send them and read back the status lines of what comes
 * back, unparsed (what a hostile or confused peer would see).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';

let seq = 0;

/** A request with the headers RFC 3261 §8.1.1 requires, Content-Length 0. */
export function sipRequest(
  method: string,
  o: {
    transport: 'TCP' | 'UDP';
    from: { host: string; port: number };
    callId?: string;
    fromTag?: string;
    toTag?: string;
    cseq?: number;
  },
): string {
  seq += 1;
  const { host, port } = o.from;
  return [
    `${method} sip:+919876543210@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${o.transport} ${host}:${port};branch=z9hG4bK-flood-${process.pid}-${seq};rport`,
    'Max-Forwards: 70',
    `From: <sip:flood@${host}>;tag=${o.fromTag ?? `f${seq}`}`,
    `To: <sip:+919876543210@127.0.0.1>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? `flood-${process.pid}-${seq}@${host}`}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <sip:flood@${host}:${port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Status codes of the responses in `text` (one per status line). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/^SIP\/2\.0 (\d{3}) /gm)].map((m) => Number(m[1]));
}

export function countBy(codes: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
}

export interface WirePeer {
  readonly local: { host: string; port: number };
  send(text: string | Buffer): Promise<void>;
  /** Everything received so far, as latin1 text (TCP: the stream; UDP: datagrams joined). */
  received(): string;
  /** TCP: the connection closed (by either side). */
  closed(): boolean;
  close(): Promise<void>;
}

export async function tcpPeer(port: number, localAddress = '127.0.0.1'): Promise<WirePeer> {
  const sock: Socket = connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  let closed = false;
  sock.on('data', (d) => void (text += d.toString('latin1')));
  sock.on('error', () => undefined);
  sock.on('close', () => void (closed = true));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('close', () => reject(new Error('connection closed before it opened')));
  });
  return {
    local: { host: localAddress, port: sock.localPort ?? 0 },
    send: (t) =>
      new Promise<void>((r) => {
        if (closed) return r();
        sock.write(t, () => r());
      }),
    received: () => text,
    closed: () => closed,
    close: () =>
      new Promise<void>((r) => {
        if (closed) return r();
        sock.once('close', () => r());
        sock.destroy();
      }),
  };
}

export async function udpPeer(port: number, localAddress = '127.0.0.1'): Promise<WirePeer> {
  const sock: UdpSocket = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => void got.push(m.toString('latin1')));
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.bind(0, localAddress, () => r()));
  let closed = false;
  return {
    local: { host: localAddress, port: sock.address().port },
    send: (t) =>
      new Promise<void>((r) =>
        sock.send(typeof t === 'string' ? Buffer.from(t, 'latin1') : t, port, '127.0.0.1', () => r()),
      ),
    received: () => got.join(''),
    closed: () => closed,
    close: () =>
      new Promise<void>((r) => {
        if (closed) return r();
        closed = true;
        sock.close(() => r());
      }),
  };
}
