/**
 * Hostile and well-behaved RTP peers for the bridge fault tests: a far end that plays a
 * tone as PCMA from its own socket (so the bridge latches to it, and it can then send
 * anything from the latched source), hand-made malformed packets, and bounded floods.
 * Also reads the bridge's RTP and SIP ports from the INVITE the simulator received.
 */
import { createSocket, type Socket } from 'node:dgram';
import { G711Codec } from '../../src/codec/g711.js';
import { generateTone } from '../../src/rtp/goertzel.js';
import type { ExotelSimulator } from '../../src/testing/index.js';

const PT_PCMA = 8;

/** The bridge's RTP port (its SDP offer) and SIP port (its Contact), from the INVITE the simulator got. */
export function bridgePorts(sim: ExotelSimulator): { rtp: number; sip: number } {
  const invite = sim.requests.find((r) => r.method === 'INVITE');
  if (invite === undefined) throw new Error('no INVITE seen by the simulator');
  const ports = portsInInvite(
    `Contact: ${invite.message.headers.get('Contact') ?? ''}\r\n\r\n${Buffer.from(invite.message.body).toString('latin1')}`,
  );
  if (ports === undefined) throw new Error('ports not found in the INVITE');
  return ports;
}

/** The same from an INVITE's text (e.g. SIPp's message trace), undefined until it is there. */
export function portsInInvite(text: string): { rtp: number; sip: number } | undefined {
  const rtp = Number(/^m=audio (\d+) /m.exec(text)?.[1]);
  const sip = Number(/^Contact:[^\r\n]*@[^:;>]+:(\d+)/m.exec(text)?.[1]);
  return rtp > 0 && sip > 0 ? { rtp, sip } : undefined;
}

/** A 12-byte-header RTP packet with these header bytes; `payload` appended as is. */
export function rtpPacket(f: {
  first?: number;
  payloadType?: number;
  seq: number;
  ts: number;
  ssrc: number;
  payload?: Uint8Array;
}): Buffer {
  const payload = f.payload ?? new Uint8Array(160).fill(0xd5);
  const buf = Buffer.alloc(12 + payload.length);
  buf[0] = f.first ?? 0x80;
  buf[1] = (f.payloadType ?? PT_PCMA) & 0x7f;
  buf.writeUInt16BE(f.seq & 0xffff, 2);
  buf.writeUInt32BE(f.ts >>> 0, 4);
  buf.writeUInt32BE(f.ssrc >>> 0, 8);
  buf.set(payload, 12);
  return buf;
}

/** Datagrams the RTP parser must refuse (counted `malformed`), one per kind. */
export function malformedPackets(): { kind: string; bytes: Buffer }[] {
  const base = { seq: 1, ts: 160, ssrc: 0x5eed };
  const extHuge = rtpPacket({ ...base, first: 0x90, payload: new Uint8Array([0xbe, 0xde, 0xff, 0xff]) });
  const padHuge = rtpPacket({ ...base, first: 0xa0, payload: new Uint8Array(4).fill(0xff) });
  return [
    { kind: 'version 1', bytes: rtpPacket({ ...base, first: 0x40 }) },
    { kind: 'version 0', bytes: rtpPacket({ ...base, first: 0x00 }) },
    { kind: 'truncated header (5 bytes)', bytes: Buffer.from([0x80, 0x08, 0x00, 0x01, 0x00]) },
    { kind: 'one byte', bytes: Buffer.from([0x80]) },
    {
      kind: 'CSRC count 15, no CSRC list',
      bytes: rtpPacket({ ...base, first: 0x8f, payload: new Uint8Array(0) }),
    },
    { kind: 'extension longer than the packet', bytes: extHuge },
    { kind: 'padding longer than the packet', bytes: padHuge },
    { kind: 'text garbage', bytes: Buffer.from('GARBAGE, NOT RTP AT ALL '.repeat(4), 'latin1') },
  ];
}

async function boundSocket(ip: string): Promise<Socket> {
  const sock = createSocket('udp4');
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.bind(0, ip, () => r()));
  return sock;
}

function closeSock(sock: Socket): Promise<void> {
  return new Promise<void>((r) => {
    try {
      sock.close(() => r());
    } catch {
      r();
    }
  });
}

/**
 * Sends `count` datagrams (`make(i)`) to `port`, in batches with a pause between them so
 * the receiver (often in this very process) can drain its socket: a bounded flood.
 */
export async function flood(
  sock: Socket,
  port: number,
  count: number,
  make: (i: number) => Buffer,
  host = '127.0.0.1',
  batch = 50,
): Promise<number> {
  let sent = 0;
  while (sent < count) {
    const n = Math.min(batch, count - sent);
    let last: Promise<void> = Promise.resolve();
    for (let k = 0; k < n; k++) {
      last = new Promise<void>((r) => sock.send(make(sent + k), port, host, () => r()));
    }
    await last;
    sent += n;
    await new Promise((r) => setTimeout(r, 1));
  }
  return sent;
}

/** A UDP socket that is not the far end (another port, or another loopback address). */
export interface Stranger {
  sock: Socket;
  close(): Promise<void>;
}

export async function stranger(ip = '127.0.0.1'): Promise<Stranger> {
  const sock = await boundSocket(ip);
  return { sock, close: () => closeSock(sock) };
}

/** The far end's media, played from its own socket: a PCMA tone every 20 ms. */
export interface RtpFarEnd {
  /** The socket the tone comes from (the bridge latches to it). */
  readonly sock: Socket;
  /** RTP datagrams received from the bridge. */
  received(): number;
  /** Tone packets sent so far. */
  sent(): number;
  close(): Promise<void>;
}

export async function startRtpFarEnd(bridgeRtpPort: number, toneHz = 440): Promise<RtpFarEnd> {
  const sock = await boundSocket('127.0.0.1');
  const codec = new G711Codec('PCMA');
  let received = 0;
  sock.on('message', () => void (received += 1));
  let n = 0;
  let running = true;
  const start = Date.now();
  const ssrc = 0x0440_0440;
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (!running) return;
    // catch up against absolute 20 ms deadlines (at most 5 frames at once)
    for (let k = 0; k < 5 && start + n * 20 <= Date.now(); k++) {
      const pcm = generateTone(toneHz, 8000, 160, 8000, n * 160);
      sock.send(
        rtpPacket({ seq: n, ts: n * 160, ssrc, payload: codec.encode(pcm) }),
        bridgeRtpPort,
        '127.0.0.1',
      );
      n += 1;
    }
    timer = setTimeout(tick, Math.max(1, start + n * 20 - Date.now()));
  };
  tick();
  return {
    sock,
    received: () => received,
    sent: () => n,
    async close() {
      running = false;
      clearTimeout(timer);
      await closeSock(sock);
    },
  };
}
