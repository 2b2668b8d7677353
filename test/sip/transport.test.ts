import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { SipTransport, type SipFlow, type SipKeepaliveResult } from '../../src/sip/transport.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { createRequest, type SipMessage } from '../../src/sip/message.js';
import { SipTransportError } from '../../src/errors.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway self-signed certificate for 127.0.0.1 (openssl CLI). */
function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sip-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const OPTIONS = [
  'OPTIONS sip:bridge@127.0.0.1 SIP/2.0',
  'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKopt1',
  'From: <sip:exotel@127.0.0.1>;tag=a',
  'To: <sip:bridge@127.0.0.1>',
  'Call-ID: opt-1',
  'CSeq: 1 OPTIONS',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

async function started(listen: ('tcp' | 'udp')[], maxInboundConnections?: number) {
  const got: { msg: SipMessage; flow: SipFlow }[] = [];
  const closed: SipFlow[] = [];
  const t = new SipTransport(
    { bindIp: '127.0.0.1', port: 0, listen, ...(maxInboundConnections ? { maxInboundConnections } : {}) },
    { onMessage: (msg, flow) => got.push({ msg, flow }), onConnectionClosed: (flow) => closed.push(flow) },
  );
  await t.start();
  cleanups.push(() => t.close());
  return { t, got, closed };
}

function open(port: number): Promise<Socket & { received: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s as Socket & { received: string }));
    (s as Socket & { received: string }).received = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => ((s as Socket & { received: string }).received += d));
    s.once('error', reject);
    cleanups.push(() => void s.destroy());
  });
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SipTransport', () => {
  it('TCP listener: frames a message written byte by byte, reports its flow, answers a double-CRLF ping with CRLF', async () => {
    const { t, got } = await started(['tcp']);
    const s = await open(t.port);
    for (const ch of OPTIONS) s.write(ch);
    await until(() => got.length === 1);
    const first = got[0]!;
    expect(first.msg.kind).toBe('request');
    expect(first.msg.kind === 'request' && first.msg.method).toBe('OPTIONS');
    expect(first.flow.protocol).toBe('tcp');
    expect(first.flow.remotePort).toBe(s.localPort);
    expect(first.flow.localPort).toBe(t.port);
    expect(first.flow.connectionId).toBeTypeOf('number');
    s.write('\r\n\r\n');
    await until(() => s.received === '\r\n');
  });

  it('garbage closes only its own connection; the listener keeps accepting', async () => {
    const { t, got, closed } = await started(['tcp']);
    const bad = await open(t.port);
    bad.write('THIS IS NOT SIP\r\nno colon here\r\n\r\n');
    await until(() => closed.length === 1);
    const good = await open(t.port);
    good.write(OPTIONS);
    await until(() => got.length === 1);
    expect(t.connectionCount).toBe(1);
  });

  it('refuses connections beyond maxInboundConnections', async () => {
    const { t } = await started(['tcp'], 2);
    const a = await open(t.port);
    const b = await open(t.port);
    await until(() => t.connectionCount === 2);
    const c = await open(t.port);
    const closedC = new Promise<void>((r) => c.once('close', () => r()));
    await closedC;
    expect(t.connectionCount).toBe(2);
    expect(a.destroyed || b.destroyed).toBe(false);
  });

  it('UDP: one datagram is one message; a malformed datagram is dropped', async () => {
    const { t, got } = await started(['udp']);
    const u = createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => u.close(() => r())));
    await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
    u.send('garbage garbage garbage garbage', t.port, '127.0.0.1');
    u.send(OPTIONS.replace('TCP', 'UDP'), t.port, '127.0.0.1');
    await until(() => got.length === 1);
    expect(got[0]!.flow).toMatchObject({
      protocol: 'udp',
      remotePort: u.address().port,
      connectionId: undefined,
    });
  });

  it('outgoing TCP: one connection is opened and reused for later sends to the same address', async () => {
    const accepted: Socket[] = [];
    let data = '';
    const server: Server = createServer((sock) => {
      accepted.push(sock);
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => (data += d));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => accepted.forEach((s) => s.destroy()));
    const port = (server.address() as { port: number }).port;
    const { t } = await started([]);
    const req = () =>
      createRequest('OPTIONS', `sip:x@127.0.0.1:${port}`, [
        ['Via', 'SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bKx'],
        ['Call-ID', 'c'],
        ['CSeq', '1 OPTIONS'],
      ]);
    const f1 = await t.send(req(), { protocol: 'tcp', host: '127.0.0.1', port });
    const f2 = await t.send(req(), { protocol: 'tcp', host: '127.0.0.1', port });
    expect(f2.connectionId).toBe(f1.connectionId);
    await until(() => (data.match(/OPTIONS sip:/g) ?? []).length === 2);
    expect(accepted).toHaveLength(1);
    expect(t.findConnection('tcp', '127.0.0.1', port)?.connectionId).toBe(f1.connectionId);
  });

  it('a refused connection rejects with SipTransportError', async () => {
    const { t } = await started([]);
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(
      t.send(createRequest('OPTIONS', 'sip:x@127.0.0.1', [['Call-ID', 'c']]), {
        protocol: 'tcp',
        host: '127.0.0.1',
        port,
      }),
    ).rejects.toBeInstanceOf(SipTransportError);
  });

  it('TLS: a verified connection carries a request one way and the response back on the same connection; an unknown certificate is refused', async () => {
    const { key, cert } = selfSigned();
    const got: { msg: SipMessage; flow: SipFlow }[] = [];
    const server = new SipTransport(
      { bindIp: '127.0.0.1', port: 0, listen: ['tls'], tlsServer: { key, cert } },
      { onMessage: (msg, flow) => got.push({ msg, flow }) },
    );
    await server.start();
    cleanups.push(() => server.close());
    const back: SipMessage[] = [];
    const client = new SipTransport(
      { bindIp: '127.0.0.1', port: 0, listen: [], tls: { ca: cert } },
      { onMessage: (msg) => back.push(msg) },
    );
    await client.start();
    cleanups.push(() => client.close());
    const req = createRequest('OPTIONS', `sip:x@127.0.0.1:${server.port};transport=tls`, [
      ['Via', 'SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls'],
      ['From', '<sip:a@127.0.0.1>;tag=1'],
      ['To', '<sip:x@127.0.0.1>'],
      ['Call-ID', 'tls-1'],
      ['CSeq', '1 OPTIONS'],
    ]);
    const sentOn = await client.send(req, { protocol: 'tls', host: '127.0.0.1', port: server.port });
    await until(() => got.length === 1);
    expect(got[0]!.flow.protocol).toBe('tls');
    const { createResponse } = await import('../../src/sip/message.js');
    const res = createResponse(200, 'OK', [
      ['Via', 'SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls'],
      ['From', '<sip:a@127.0.0.1>;tag=1'],
      ['To', '<sip:x@127.0.0.1>'],
      ['Call-ID', 'tls-1'],
      ['CSeq', '1 OPTIONS'],
    ]);
    const f = got[0]!.flow;
    const answeredOn = await server.send(res, {
      protocol: 'tls',
      host: f.remoteAddress,
      port: 5061,
      flow: f,
    });
    expect(answeredOn.connectionId).toBe(f.connectionId);
    await until(() => back.length === 1);
    expect(back[0]).toMatchObject({ kind: 'response', status: 200 });
    expect(client.findConnection('tls', '127.0.0.1', server.port)?.connectionId).toBe(sentOn.connectionId);

    const strict = new SipTransport({ bindIp: '127.0.0.1', port: 0, listen: [] }, { onMessage: () => {} });
    cleanups.push(() => strict.close());
    await expect(
      strict.send(req, { protocol: 'tls', host: '127.0.0.1', port: server.port }),
    ).rejects.toBeInstanceOf(SipTransportError);
  });

  it('a host name that does not resolve rejects with SipTransportError (UDP)', async () => {
    const { t } = await started(['udp']);
    const err = await t
      .send(createRequest('OPTIONS', 'sip:x@nohost.invalid', [['Call-ID', 'c']]), {
        protocol: 'udp',
        host: 'nohost.invalid',
        port: 5060,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipTransportError);
    expect((err as Error).message).toMatch(/cannot resolve nohost\.invalid/);
  });

  it('close() leaves no socket or server behind', async () => {
    await new Promise((r) => setTimeout(r, 50)); // let earlier tests' sockets finish closing
    const before = process.getActiveResourcesInfo().filter((r) => /TCP|UDP/.test(r)).length;
    const { t } = await started(['tcp', 'udp']);
    const s = await open(t.port);
    s.write(OPTIONS);
    await t.close();
    s.destroy();
    await new Promise((r) => setTimeout(r, 20));
    const after = process.getActiveResourcesInfo().filter((r) => /TCP|UDP/.test(r)).length;
    expect(after).toBe(before);
  });
});

describe('SipTransport keep-alives (RFC 5626 §4.4.1) on a fake clock', () => {
  /** A TCP peer that records what it receives and can answer on the accepted socket. */
  async function peer(): Promise<{
    port: number;
    data: () => string;
    sock: () => Socket;
    closed: () => boolean;
  }> {
    let data = '';
    let sock: Socket | undefined;
    let closed = false;
    const server = createServer((s) => {
      sock = s;
      s.setEncoding('latin1');
      s.on('data', (d: string) => (data += d));
      s.on('close', () => (closed = true));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => void sock?.destroy());
    return {
      port: (server.address() as { port: number }).port,
      data: () => data,
      sock: () => sock!,
      closed: () => closed,
    };
  }

  async function outbound(keepalive: { intervalMs: number; pongTimeoutMs?: number }) {
    const clock = new FakeTimerClock();
    const p = await peer();
    const results: { flow: SipFlow; result: SipKeepaliveResult }[] = [];
    const closed: { flow: SipFlow; error: unknown }[] = [];
    const got: SipMessage[] = [];
    const t = new SipTransport(
      { bindIp: '127.0.0.1', port: 0, listen: [], keepalive, clock },
      {
        onMessage: (msg) => got.push(msg),
        onConnectionClosed: (flow, error) => closed.push({ flow, error }),
        onKeepalive: (flow, result) => results.push({ flow, result }),
      },
    );
    await t.start();
    cleanups.push(() => t.close());
    const flow = await t.send(
      createRequest('OPTIONS', `sip:x@127.0.0.1:${p.port}`, [
        ['Via', 'SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bKka'],
        ['Call-ID', 'ka'],
        ['CSeq', '1 OPTIONS'],
      ]),
      { protocol: 'tcp', host: '127.0.0.1', port: p.port },
    );
    await until(() => p.data().endsWith('\r\n\r\n') && p.data().includes('Content-Length: 0'));
    const sent = p.data().length; // the OPTIONS itself
    const afterRequest = (): string => p.data().slice(sent);
    return { clock, p, t, flow, results, closed, got, afterRequest };
  }

  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

  it('sends a double-CRLF ping once intervalMs passed without traffic, and measures the CRLF pong', async () => {
    const { clock, p, flow, results, afterRequest } = await outbound({ intervalMs: 30_000 });
    clock.advance(29_999);
    await settle();
    expect(afterRequest()).toBe('');
    clock.advance(1);
    await until(() => afterRequest() === '\r\n\r\n');
    clock.advance(25);
    p.sock().write('\r\n');
    await until(() => results.length === 1);
    expect(results[0]).toEqual({ flow, result: { ok: true, rttMs: 25 } });

    // The next cycle: a second lone CRLF is a second pong, not the end of a ping.
    clock.advance(30_000);
    await until(() => afterRequest() === '\r\n\r\n\r\n\r\n');
    clock.advance(7);
    p.sock().write('\r\n');
    await until(() => results.length === 2);
    expect(results[1]!.result).toEqual({ ok: true, rttMs: 7 });
    await settle();
    expect(afterRequest()).toBe('\r\n\r\n\r\n\r\n'); // two pings, no pong: it was not read as a ping
  });

  it('anything received postpones the next ping by a full interval', async () => {
    const { clock, p, afterRequest, got } = await outbound({ intervalMs: 30_000 });
    clock.advance(20_000);
    p.sock().write(OPTIONS);
    await until(() => got.length === 1);
    clock.advance(20_000); // 40 s after the connect, 20 s after the last traffic
    await settle();
    expect(afterRequest()).toBe('');
    clock.advance(10_000);
    await until(() => afterRequest() === '\r\n\r\n');
  });

  /** One ping answered, so the peer is known to do RFC 5626 pongs. */
  async function answerOnePing(o: Awaited<ReturnType<typeof outbound>>, intervalMs: number): Promise<void> {
    o.clock.advance(intervalMs);
    await until(() => o.afterRequest() === '\r\n\r\n');
    o.p.sock().write('\r\n');
    await until(() => o.results.length === 1);
    expect(o.results[0]!.result.ok).toBe(true);
  }

  it('once the peer has answered a ping, a missing pong closes the connection with SipTransportError and reports ok: false', async () => {
    const o = await outbound({ intervalMs: 5_000 });
    const { clock, p, t, flow, results, closed, afterRequest } = o;
    await answerOnePing(o, 5_000);
    clock.advance(5_000);
    await until(() => afterRequest() === '\r\n\r\n\r\n\r\n');
    clock.advance(9_999); // RFC 5626 default: 10 s for the pong
    await settle();
    expect(results).toHaveLength(1);
    clock.advance(1);
    expect(results).toHaveLength(2);
    const r = results[1]!.result;
    expect(r.ok).toBe(false);
    const error = r.ok ? undefined : r.error;
    expect(error).toBeInstanceOf(SipTransportError);
    expect(error?.message).toMatch(/no keep-alive pong within 10000 ms/);
    await until(() => closed.length === 1 && p.closed());
    expect(closed[0]).toEqual({ flow, error });
    expect(t.hasOpenConnection(flow)).toBe(false);
    expect(t.stats().connectionsClosedKeepalive).toBe(1);
  });

  it('a peer that never answers pings is not doing RFC 5626 pongs: it keeps being pinged, nothing is reported or closed', async () => {
    const { clock, p, t, flow, results, closed, afterRequest } = await outbound({ intervalMs: 5_000 });
    clock.advance(5_000);
    await until(() => afterRequest() === '\r\n\r\n');
    clock.advance(10_000); // the pong timeout passes unanswered
    clock.advance(5_000); // and the next interval: a second ping
    await until(() => afterRequest() === '\r\n\r\n\r\n\r\n');
    clock.advance(10_000);
    await settle();
    expect(results).toEqual([]);
    expect(closed).toEqual([]);
    expect(p.closed()).toBe(false);
    expect(t.hasOpenConnection(flow)).toBe(true);
  });

  it('pongTimeoutMs shortens the wait for the pong', async () => {
    const o = await outbound({ intervalMs: 1_000, pongTimeoutMs: 500 });
    await answerOnePing(o, 1_000);
    o.clock.advance(1_000);
    await until(() => o.afterRequest() === '\r\n\r\n\r\n\r\n');
    o.clock.advance(499);
    expect(o.results.map((x) => x.result.ok)).toEqual([true]);
    o.clock.advance(1);
    expect(o.results.map((x) => x.result.ok)).toEqual([true, false]);
    await until(() => o.closed.length === 1);
  });

  it('connections accepted by our listener answer a ping with one CRLF and never ping themselves', async () => {
    const clock = new FakeTimerClock();
    const got: SipMessage[] = [];
    const t = new SipTransport(
      { bindIp: '127.0.0.1', port: 0, listen: ['tcp'], keepalive: { intervalMs: 1_000 }, clock },
      { onMessage: (msg) => got.push(msg) },
    );
    await t.start();
    cleanups.push(() => t.close());
    const s = await open(t.port);
    s.write(OPTIONS);
    await until(() => got.length === 1);
    clock.advance(60_000);
    await settle();
    expect(s.received).toBe('');
    s.write('\r\n');
    s.write('\r\n');
    await until(() => s.received === '\r\n');
    s.write('\r\n\r\n');
    await until(() => s.received === '\r\n\r\n');
  });
});
