import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { SipTransport, type SipFlow } from '../../src/sip/transport.js';
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
