/**
 * Hostile SIP input against a real ExotelSipClient listening on loopback (TCP and UDP):
 * oversize messages, endless headers, a never-ending body, a slow-loris peer, idle
 * connections, too many connections, request floods from strangers and from the trunk.
 * Each is bounded in memory and time, counted in `client.stats()`, and never crashes the
 * client; the trunk can still talk to it afterwards and `close()` leaves nothing open.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ExotelSipClient, type ExotelSipClientOptions } from '../../src/sip/client.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { createMemoryLogger } from '../../src/logger.js';
import { expectLibraryHoldsNothing } from '../harness/resources.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
// every case ends with the library holding nothing: listeners, connections and timers
// (unref'd ones too) all released by close()
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await expectLibraryHoldsNothing();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => /TCP|UDP|Pipe/.test(r)).length;
}

async function startClient(extra: Partial<ExotelSipClientOptions> = {}): Promise<ExotelSipClient> {
  // The trunk is 127.0.0.1; the attackers below come from 127.0.0.2 (a stranger) unless
  // the test says otherwise.
  const c = new ExotelSipClient({
    sipHost: '127.0.0.1',
    sipPort: 9, // never dialled in these tests
    transport: 'tcp',
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    listen: ['tcp', 'udp'],
    fromDomain: 'acme.sip.exotel.com',
    callerId: '08044319240',
    ...extra,
  });
  cleanups.push(() => c.close());
  await c.start();
  return c;
}

function options(n: number, via: string, extraHeaders = ''): string {
  return (
    `OPTIONS sip:bridge@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/${via};branch=z9hG4bK-flood-${n};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:x@example.com>;tag=f${n}\r\nTo: <sip:bridge@127.0.0.1>\r\n` +
    `Call-ID: flood-${n}\r\nCSeq: 1 OPTIONS\r\n${extraHeaders}Content-Length: 0\r\n\r\n`
  );
}

interface TcpPeer {
  sock: Socket;
  data: Buffer[];
  closed: Promise<void>;
  isClosed(): boolean;
  write(s: string | Uint8Array): Promise<boolean>;
}

async function tcpPeer(port: number, localAddress = '127.0.0.2'): Promise<TcpPeer> {
  const sock = connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const data: Buffer[] = [];
  let closed = false;
  sock.on('data', (d) => data.push(d));
  sock.on('error', () => undefined);
  const closedP = new Promise<void>((r) => sock.once('close', () => ((closed = true), r())));
  cleanups.push(() => void sock.destroy());
  return {
    sock,
    data,
    closed: closedP,
    isClosed: () => closed,
    write: (s) =>
      new Promise((resolve) => {
        if (sock.destroyed) return resolve(false);
        sock.write(s, (err) => resolve(err === undefined || err === null));
      }),
  };
}

async function udpPeer(address: string): Promise<{ sock: UdpSocket; got: Buffer[]; port: number }> {
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { sock, got, port: sock.address().port };
}

function send(sock: UdpSocket, data: string | Uint8Array, port: number): Promise<void> {
  return new Promise((r) => sock.send(data, port, '127.0.0.1', () => r()));
}

describe('hostile SIP input on the listening port', () => {
  it('a message over the size limit closes that connection only; the trunk is still served', async () => {
    const c = await startClient({ maxMessageBytes: 4096 });
    const bad = await tcpPeer(c.localPort);
    await bad.write(options(1, 'TCP 127.0.0.2:5060', `X-Big: ${'a'.repeat(8000)}\r\n`));
    await bad.closed;
    expect(c.stats().connectionsClosedBadInput).toBe(1);
    // The trunk (127.0.0.1) still gets its OPTIONS answered on a fresh connection.
    const trunk = await tcpPeer(c.localPort, '127.0.0.1');
    await trunk.write(options(2, 'TCP 127.0.0.1:5060'));
    await until(() => trunk.data.length > 0, 3000, 'OPTIONS answer');
    const res = parseSipMessage(Buffer.concat(trunk.data), { transport: 'stream' });
    expect(res).toMatchObject({ kind: 'response', status: 200 });
  });

  it('endless headers: cut off once the header section passes the limit, not buffered forever', async () => {
    const c = await startClient({ maxMessageBytes: 16_384 });
    const p = await tcpPeer(c.localPort);
    await p.write('OPTIONS sip:bridge@127.0.0.1 SIP/2.0\r\n');
    const block = ('X-Endless: ' + 'z'.repeat(100) + '\r\n').repeat(40); // ~4 KiB
    let written = 0;
    for (let i = 0; i < 500 && !p.isClosed(); i++) {
      if (!(await p.write(block))) break;
      written += block.length;
      await Promise.race([sleep(5), p.closed]);
    }
    await p.closed;
    expect(c.stats().connectionsClosedBadInput).toBe(1);
    // Closed a little after the 16 KiB limit (what was in flight), never after 2 MB.
    expect(written).toBeLessThan(100_000);
  });

  it('a never-ending body: a Content-Length over the limit is refused before any body byte', async () => {
    const c = await startClient();
    const p = await tcpPeer(c.localPort);
    await p.write(options(3, 'TCP 127.0.0.2:5060').replace('Content-Length: 0', 'Content-Length: 999999999'));
    await p.closed;
    expect(c.stats().connectionsClosedBadInput).toBe(1);
  });

  it('a body that never finishes arriving is cut off by the message timeout', async () => {
    const c = await startClient({ messageTimeoutMs: 800 });
    const p = await tcpPeer(c.localPort);
    await p.write(
      options(4, 'TCP 127.0.0.2:5060').replace('Content-Length: 0', 'Content-Length: 5000') + 'abc',
    );
    await p.closed;
    // closed by the message timeout, not by any other limit (the counter names the reason)
    expect(c.stats()).toMatchObject({
      connectionsClosedSlow: 1,
      connectionsClosedBadInput: 0,
      connectionsClosedIdle: 0,
    });
  });

  it('slow loris: one byte a second is cut off by the message timeout', async () => {
    const c = await startClient({ messageTimeoutMs: 2500 });
    const p = await tcpPeer(c.localPort);
    const msg = options(5, 'TCP 127.0.0.2:5060');
    const t0 = Date.now();
    let written = 0;
    for (let i = 0; i < msg.length && !p.isClosed(); i++) {
      await p.write(msg[i]!);
      written++;
      await Promise.race([sleep(1000), p.closed]);
    }
    await p.closed;
    // not before the timeout (a lower bound a busy machine cannot break), and cut off long
    // before the message was complete (a count, not an upper time bound)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
    expect(written).toBeLessThan(msg.length / 2);
    expect(c.stats()).toMatchObject({ connectionsClosedSlow: 1, connectionsClosedBadInput: 0 });
  }, 10_000);

  it('an idle inbound connection is closed after the idle timeout; keep-alives keep one open', async () => {
    const c = await startClient({ inboundIdleTimeoutMs: 600 });
    const idle = await tcpPeer(c.localPort);
    const alive = await tcpPeer(c.localPort, '127.0.0.1');
    const pinger = setInterval(() => void alive.write('\r\n\r\n'), 200);
    cleanups.push(() => clearInterval(pinger));
    await idle.closed;
    // order, not time: the idle one is closed while the pinged one (same age) stays open
    expect(alive.isClosed()).toBe(false);
    await sleep(500);
    expect(alive.isClosed()).toBe(false);
    expect(c.stats().connectionsClosedIdle).toBe(1);
  });

  it('connections beyond maxInboundConnections are refused and counted', async () => {
    const c = await startClient({ maxInboundConnections: 5 });
    const peers: TcpPeer[] = [];
    for (let i = 0; i < 12; i++) peers.push(await tcpPeer(c.localPort));
    await until(() => peers.filter((p) => p.isClosed()).length === 7, 3000, 'refusals');
    expect(c.stats()).toMatchObject({ connectionsRefused: 7, connections: 5 });
  });

  it('a UDP flood from a stranger: every request answered 403 statelessly, no transaction kept', async () => {
    const logger = createMemoryLogger();
    const c = await startClient({ logger });
    const stranger = await udpPeer('127.0.0.2');
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 3000; i++) {
      await send(stranger.sock, options(i, `UDP 127.0.0.2:${stranger.port}`), c.localPort);
      if (i % 32 === 31) await sleep(1);
    }
    await until(() => c.stats().requestsRefused >= 2900, 5000, 'refusals counted');
    const s = c.stats();
    expect(s.serverTransactions).toBe(0);
    expect(s.requestsDropped).toBe(0);
    await until(() => stranger.got.length >= s.requestsRefused - 10, 3000, '403s');
    expect(
      stranger.got.every((m) => /^SIP\/2\.0 403 /.test(m.toString('latin1'))),
      'every answer is a 403',
    ).toBe(true);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 2 ** 20);
    // The flood cannot flood the host's logs: about one line per second, with a count.
    const lines = logger.records.filter((r) => r.msg.includes('unknown address refused'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(5);
  });

  it('a flood of new requests from the trunk is capped by maxServerTransactions and counted', async () => {
    const c = await startClient({ maxServerTransactions: 100 });
    const trunk = await udpPeer('127.0.0.1');
    for (let i = 0; i < 1000; i++) {
      await send(trunk.sock, options(i, `UDP 127.0.0.1:${trunk.port}`), c.localPort);
      if (i % 32 === 31) await sleep(1);
    }
    await until(() => c.stats().requestsDropped + c.stats().serverTransactions >= 990, 5000, 'all seen');
    const s = c.stats();
    // UDP server transactions live for Timer J (64·T1 = 32 s): the first 100 are kept.
    expect(s.serverTransactions).toBe(100);
    expect(s.requestsDropped).toBeGreaterThanOrEqual(890);
    expect(trunk.got.length).toBeLessThanOrEqual(100);
  });

  it('malformed and oversize datagrams are dropped and counted; nothing is answered', async () => {
    const c = await startClient({ maxMessageBytes: 2000 });
    const p = await udpPeer('127.0.0.1');
    await send(p.sock, 'INVITE nonsense\r\n\r\n', c.localPort);
    await send(p.sock, Buffer.alloc(1200, 0xff), c.localPort);
    await send(p.sock, options(1, `UDP 127.0.0.1:${p.port}`, `X-Pad: ${'p'.repeat(3000)}\r\n`), c.localPort);
    await send(
      p.sock,
      options(2, `UDP 127.0.0.1:${p.port}`).replace('CSeq: 1 OPTIONS', 'CSeq: x'),
      c.localPort,
    );
    await until(() => c.stats().malformedDatagrams + c.stats().oversizeDatagrams === 4, 3000, 'drops');
    expect(c.stats()).toMatchObject({ malformedDatagrams: 3, oversizeDatagrams: 1 });
    await sleep(100);
    expect(p.got).toHaveLength(0);
  });

  it('after all of it, close() leaves no socket behind', async () => {
    const before = sockets();
    const c = await startClient({ messageTimeoutMs: 300, maxInboundConnections: 3 });
    const peers: TcpPeer[] = [];
    for (let i = 0; i < 5; i++) peers.push(await tcpPeer(c.localPort));
    await peers[0]!.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP');
    await c.close();
    for (const p of peers) p.sock.destroy();
    await until(() => sockets() <= before, 3000, 'sockets closed');
  });
});
