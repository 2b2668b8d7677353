/**
 * The simulator's TLS listener, CRLF keep-alive answers and injected clock, driven by hand-written SIP over
 * real loopback sockets: a node:tls client that trusts a CA made for the test (openssl,
 * in a temp dir), and a raw TCP client on a fake clock.
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { ConfigError } from '../../src/errors.js';
import { createSdpAnswer, createSdpOffer } from '../../src/sdp/offer-answer.js';
import { buildResponse } from '../../src/sip/builders.js';
import { SipStreamFramer } from '../../src/sip/framing.js';
import { createRequest, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { makeTestPki, type TestPki } from '../harness/pki.js';
import { ExotelSimulator, FakeTimerClock, type ExotelSimulatorOptions } from '../../src/testing/index.js';

let pki: TestPki;

beforeAll(() => {
  pki = makeTestPki();
});

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sim(o: ExotelSimulatorOptions): Promise<ExotelSimulator> {
  const s = new ExotelSimulator({ host: '127.0.0.1', fromDomain: 'acme.sip.exotel.com', ...o });
  await s.start();
  cleanups.push(() => s.close());
  return s;
}

/** A SIP peer on a stream socket: sends requests, collects responses and requests. */
class StreamPeer {
  readonly received: (SipResponse | SipRequest)[] = [];
  private readonly framer = new SipStreamFramer();
  private waiters: (() => void)[] = [];

  constructor(readonly sock: Socket | TLSSocket) {
    sock.on('data', (d: Buffer) => {
      for (const m of this.framer.push(d)) this.received.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(msg: SipRequest | SipResponse): void {
    this.sock.write(serializeSipMessage(msg));
  }

  /** Resolves the first message received (now or later) that matches. */
  async next<T extends SipRequest | SipResponse>(match: (m: SipRequest | SipResponse) => m is T): Promise<T> {
    for (;;) {
      const found = this.received.find(match);
      if (found !== undefined) return found;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

const isResponse =
  (status: number, method?: string) =>
  (m: SipRequest | SipResponse): m is SipResponse =>
    m.kind === 'response' &&
    m.status === status &&
    (method === undefined || m.headers.get('CSeq')?.endsWith(method) === true);

function invite(transport: 'TLS' | 'TCP', localPort: number, simPort: number, sdp: string): SipRequest {
  return createRequest(
    'INVITE',
    `sip:+919876543210@127.0.0.1:${simPort}`,
    [
      ['Via', `SIP/2.0/${transport} 127.0.0.1:${localPort};branch=z9hG4bKtls1;rport`],
      ['Max-Forwards', '70'],
      ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=c1'],
      ['To', '<sip:+919876543210@127.0.0.1>'],
      ['Call-ID', `sim-${transport}-1@127.0.0.1`],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:08044319240@127.0.0.1:${localPort};transport=${transport.toLowerCase()}>`],
      ['Content-Type', 'application/sdp'],
    ],
    sdp,
  );
}

describe('ExotelSimulator over TLS', () => {
  it('refuses tls without key and certificate, and tcp together with tls', () => {
    expect(() => new ExotelSimulator({ transports: ['tls'] })).toThrow(ConfigError);
    expect(() => new ExotelSimulator({ transports: ['tcp', 'tls'], tls: { key: 'k', cert: 'c' } })).toThrow(
      ConfigError,
    );
  });

  it('reports the tls transport in its address and answers OPTIONS over a verified TLS connection', async () => {
    const s = await sim({ tls: { key: pki.key, cert: pki.cert } });
    expect(s.address).toMatchObject({ host: '127.0.0.1', transport: 'tls', transports: ['tls'] });
    const sock = connectTls({ host: '127.0.0.1', port: s.address.port, ca: pki.ca, servername: 'localhost' });
    cleanups.push(() => void sock.destroy());
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', resolve);
      sock.once('error', reject);
    });
    expect(sock.authorized).toBe(true);
    const peer = new StreamPeer(sock);
    const via = `SIP/2.0/TLS 127.0.0.1:${sock.localPort};branch=z9hG4bKopt1;rport`;
    peer.send(
      createRequest('OPTIONS', `sip:127.0.0.1:${s.address.port};transport=tls`, [
        ['Via', via],
        ['Max-Forwards', '70'],
        ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=o1'],
        ['To', `<sip:127.0.0.1:${s.address.port}>`],
        ['Call-ID', 'opt-tls-1@127.0.0.1'],
        ['CSeq', '1 OPTIONS'],
      ]),
    );
    const res = await peer.next(isResponse(200, 'OPTIONS'));
    expect(res.headers.get('Server')).toBe('exotel-simulator');
    expect(res.headers.get('Via')).toBe(via); // received/rport are for UDP only
    expect(s.requests).toMatchObject([{ method: 'OPTIONS', transport: 'tls' }]);
  });

  it('serves a call over TLS as over TCP: 100, 180, 200 with SDP and a tls Contact, then BYE', async () => {
    const s = await sim({
      tls: { key: pki.key, cert: pki.cert },
      behaviour: { ringAfterMs: 10, answerAfterMs: 30 },
    });
    const sock = connectTls({ host: '127.0.0.1', port: s.address.port, ca: pki.ca, servername: 'localhost' });
    cleanups.push(() => void sock.destroy());
    await new Promise<void>((r) => sock.once('secureConnect', r));
    const peer = new StreamPeer(sock);
    const inv = invite(
      'TLS',
      sock.localPort!,
      s.address.port,
      createSdpOffer({ ip: '127.0.0.1', port: 40000 }),
    );
    peer.send(inv);
    await peer.next(isResponse(100));
    await peer.next(isResponse(180));
    const ok = await peer.next(isResponse(200, 'INVITE'));
    expect(ok.headers.get('Contact')).toMatch(/;transport=tls>$/);
    expect(new TextDecoder().decode(ok.body)).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r$/m);
    const toWithTag = ok.headers.get('To')!;
    const inDialog = (method: string, cseq: number): SipRequest =>
      createRequest(method, `sip:+919876543210@127.0.0.1:${s.address.port};transport=tls`, [
        ['Via', `SIP/2.0/TLS 127.0.0.1:${sock.localPort};branch=z9hG4bK${method}${cseq};rport`],
        ['Max-Forwards', '70'],
        ['From', inv.headers.get('From')!],
        ['To', toWithTag],
        ['Call-ID', inv.headers.get('Call-ID')!],
        ['CSeq', `${cseq} ${method}`],
      ]);
    peer.send(inDialog('ACK', 1));
    await s.calls[0]!.answered;
    expect(s.calls[0]!.negotiated?.codec).toBe('PCMA');
    peer.send(inDialog('BYE', 2));
    await peer.next(isResponse(200, 'BYE'));
    expect((await s.calls[0]!.ended).by).toBe('caller');
  });
});

describe('ExotelSimulator on an injected clock', () => {
  it('rings and answers when the fake clock says so, not before', async () => {
    const clock = new FakeTimerClock();
    const s = await sim({ transports: ['tcp'], clock, behaviour: { ringAfterMs: 50, answerAfterMs: 200 } });
    expect(s.address.transport).toBe('tcp');
    const sock = connectTcp(s.address.port, '127.0.0.1');
    cleanups.push(() => void sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    const peer = new StreamPeer(sock);
    peer.send(
      invite('TCP', sock.localPort!, s.address.port, createSdpOffer({ ip: '127.0.0.1', port: 40002 })),
    );
    await peer.next(isResponse(100));
    clock.advance(49);
    await new Promise((r) => setTimeout(r, 30)); // real time passes; fake time does not
    expect(peer.received.map((m) => m.kind === 'response' && m.status)).toEqual([100]);
    clock.advance(1);
    await peer.next(isResponse(180));
    clock.advance(150);
    const ok = await peer.next(isResponse(200, 'INVITE'));
    expect(ok.headers.get('Content-Type')).toBe('application/sdp');
    expect(clock.pending).toBeGreaterThan(0); // the 20 ms media tick runs on the fake clock too
    // close() sends BYE and waits for its 200 on the injected clock: 2 s of fake time.
    const closing = s.close();
    await peer.next((m): m is SipRequest => m.kind === 'request' && m.method === 'BYE');
    clock.advance(2000);
    await closing;
    expect(clock.pending).toBe(0);
  });
});

describe('ExotelSimulator keep-alives (RFC 5626 §4.4.1)', () => {
  it('answers a double-CRLF ping with one CRLF, until told to stop', async () => {
    const s = await sim({ transports: ['tcp'] });
    const sock = connectTcp(s.address.port, '127.0.0.1');
    cleanups.push(() => void sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    const chunks: string[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d.toString('latin1')));
    sock.write('\r\n\r\n');
    await vi.waitFor(() => expect(chunks.join('')).toBe('\r\n'));
    s.setKeepaliveAnswers(false);
    // A ping, then an OPTIONS: the 200 arriving with no CRLF before it shows no pong went out.
    sock.write('\r\n\r\n');
    sock.write(
      serializeSipMessage(
        createRequest('OPTIONS', `sip:127.0.0.1:${s.address.port}`, [
          ['Via', `SIP/2.0/TCP 127.0.0.1:${sock.localPort};branch=z9hG4bKka1`],
          ['Max-Forwards', '70'],
          ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=k1'],
          ['To', `<sip:127.0.0.1:${s.address.port}>`],
          ['Call-ID', 'ka-1@127.0.0.1'],
          ['CSeq', '1 OPTIONS'],
        ]),
      ),
    );
    await vi.waitFor(() => expect(chunks.join('')).toMatch(/\r\n\r\n$/));
    expect(chunks.join('')).toMatch(/^\r\nSIP\/2\.0 200 OK\r\n/);
  });
});

describe('ExotelSimulator and an INVITE without SDP (RFC 3264 delayed offer)', () => {
  it('offers in the 200 and takes the answer from the ACK', async () => {
    const s = await sim({ transports: ['tcp'], behaviour: { ringAfterMs: 5, answerAfterMs: 10 } });
    const sock = connectTcp(s.address.port, '127.0.0.1');
    cleanups.push(() => void sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    const peer = new StreamPeer(sock);
    const inv = invite('TCP', sock.localPort!, s.address.port, '');
    inv.headers.delete('Content-Type');
    peer.send(inv);
    const ok = await peer.next(isResponse(200, 'INVITE'));
    const offer = new TextDecoder().decode(ok.body);
    expect(offer).toMatch(/^m=audio \d+ RTP\/AVP 8 0 101\r$/m);
    const answer = createSdpAnswer(offer, { ip: '127.0.0.1', port: 40004, codecs: ['PCMU'] });
    peer.send(
      createRequest(
        'ACK',
        `sip:+919876543210@127.0.0.1:${s.address.port};transport=tcp`,
        [
          ['Via', `SIP/2.0/TCP 127.0.0.1:${sock.localPort};branch=z9hG4bKack1;rport`],
          ['Max-Forwards', '70'],
          ['From', inv.headers.get('From')!],
          ['To', ok.headers.get('To')!],
          ['Call-ID', inv.headers.get('Call-ID')!],
          ['CSeq', '1 ACK'],
          ['Content-Type', 'application/sdp'],
        ],
        answer,
      ),
    );
    await s.calls[0]!.answered;
    expect(s.calls[0]!.negotiated).toMatchObject({ codec: 'PCMU', payloadType: 0, remotePort: 40004 });
    // close() hangs up; its BYE is answered, so closing does not wait out the BYE timeout.
    const closing = s.close();
    peer.send(
      buildResponse(await peer.next((m): m is SipRequest => m.kind === 'request' && m.method === 'BYE'), 200),
    );
    await closing;
    expect((await s.calls[0]!.ended).by).toBe('simulator');
  });
});
