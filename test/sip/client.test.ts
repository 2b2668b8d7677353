/**
 * ExotelSipClient on loopback against a scripted UDP peer: the outcomes that need a far
 * end misbehaving on purpose (CANCEL racing 200, repeated challenges, silence, a bad SDP
 * answer), limits, out-of-dialog requests, and the promise/event contract.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { SipStreamFramer } from '../../src/sip/framing.js';
import { ExotelSipClient, type ExotelSipClientOptions } from '../../src/sip/client.js';
import { createRequest, createResponse, type SipMessage, type SipRequest } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { createMemoryLogger } from '../../src/logger.js';
import {
  AbortedError,
  ConfigError,
  SdpNegotiationError,
  SipAuthError,
  SipTimeoutError,
} from '../../src/errors.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SDP_ANSWER = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 41000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');
const OFFER = createSdpOffer({ ip: '127.0.0.1', port: 40000 });

type Handler = (req: SipRequest, peer: UdpPeer) => void;

/** A far end scripted message by message, over UDP on 127.0.0.1. */
class UdpPeer {
  readonly received: SipMessage[] = [];
  private clientPort = 0;
  constructor(
    readonly sock: Socket,
    public handler: Handler,
    readonly host = '127.0.0.1',
  ) {
    sock.on('message', (data, rinfo) => {
      const msg = parseSipMessage(new Uint8Array(data), { transport: 'datagram' });
      this.received.push(msg);
      this.clientPort = rinfo.port;
      if (msg.kind === 'request') this.handler(msg, this);
    });
  }

  static async start(handler: Handler, host = '127.0.0.1'): Promise<UdpPeer> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, host, () => r()));
    const peer = new UdpPeer(sock, handler, host);
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
    return peer;
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(msg: SipMessage, port = this.clientPort): void {
    this.sock.send(serializeSipMessage(msg), port, '127.0.0.1');
  }

  /** Answers `req` with a response copying Via/From/To/Call-ID/CSeq (To gets our tag past 100). */
  reply(req: SipRequest, status: number, reason: string, extra: [string, string][] = [], body = ''): void {
    const res = createResponse(status, reason, [], body);
    for (const v of req.headers.getAll('Via')) res.headers.append('Via', v);
    res.headers.append('From', req.headers.get('From') ?? '');
    const to = req.headers.get('To') ?? '';
    res.headers.append('To', status > 100 && !to.includes('tag=') ? `${to};tag=peer1` : to);
    res.headers.append('Call-ID', req.headers.get('Call-ID') ?? '');
    res.headers.append('CSeq', req.headers.get('CSeq') ?? '');
    res.headers.append('Contact', `<sip:peer@127.0.0.1:${this.port}>`);
    for (const [n, v] of extra) res.headers.append(n, v);
    if (body !== '') res.headers.append('Content-Type', 'application/sdp');
    this.send(res);
  }

  methods(): string[] {
    return this.received.map((m) => (m.kind === 'request' ? m.method : String(m.status)));
  }

  async waitFor(cond: () => boolean, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`peer: condition not met; got ${this.methods().join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function client(peer: UdpPeer, extra: Partial<ExotelSipClientOptions> = {}) {
  const logger = createMemoryLogger();
  const c = new ExotelSipClient({
    sipHost: peer.host,
    sipPort: peer.port,
    transport: 'udp',
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    fromDomain: 'acme.sip.exotel.com',
    callerId: '08044319240',
    logger,
    ...extra,
  });
  cleanups.push(() => c.close());
  return { c, logger };
}

/** Answers INVITE 100/180/200 (with `extra` headers on the 200), BYE 200. */
const answering =
  (extra: [string, string][] = [], sdp = SDP_ANSWER): Handler =>
  (req, peer) => {
    if (req.method === 'INVITE') {
      peer.reply(req, 100, 'Trying');
      peer.reply(req, 180, 'Ringing');
      peer.reply(req, 200, 'OK', extra, sdp);
    } else if (req.method === 'BYE') peer.reply(req, 200, 'OK');
  };

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('ExotelSipClient (scripted UDP peer)', () => {
  it('an answered call exposes the 200 OK X- headers, state and Call-ID; hangup() is idempotent', async () => {
    const peer = await UdpPeer.start(
      answering([
        ['X-Exotel-CallSid', 'CA123'],
        ['X-Other', 'v'],
      ]),
    );
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    expect(call.state).toBe('calling');
    const answer = await call.answered;
    expect(answer.callId).toBe(call.callId);
    expect(answer.remoteTag).toBe('peer1');
    expect(call.remoteHeaders).toEqual({ 'X-Exotel-CallSid': 'CA123', 'X-Other': 'v' });
    expect(answer.negotiated).toMatchObject({ codec: 'PCMU', remotePort: 41000 });
    const [a, b] = [call.hangup(), call.hangup()];
    await Promise.all([a, b]);
    expect(peer.methods().filter((m) => m === 'BYE')).toHaveLength(1);
    expect(call.state).toBe('ended');
  });

  it('CANCEL racing a 200 OK: the 200 is ACKed, then the call is ended with BYE (RFC 3261 §9.1, §15)', async () => {
    const peer = await UdpPeer.start((req, p) => {
      if (req.method === 'INVITE') p.reply(req, 180, 'Ringing');
      if (req.method === 'CANCEL') {
        // The far end answered before the CANCEL got there: 200 to the INVITE, 481 to the CANCEL.
        const invite = p.received.find(
          (m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE',
        )!;
        p.reply(invite, 200, 'OK', [], SDP_ANSWER);
        p.reply(req, 481, 'Call/Transaction Does Not Exist');
      }
      if (req.method === 'BYE') p.reply(req, 200, 'OK');
    });
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    await new Promise<void>((r) => call.once('progress', () => r()));
    await call.hangup();
    expect(await call.ended).toMatchObject({ reason: 'cancelled', status: 200 });
    expect(await rejection(call.answered)).toBeInstanceOf(AbortedError);
    expect(peer.methods().filter((m) => /^[A-Z]/.test(m))).toEqual(['INVITE', 'CANCEL', 'ACK', 'BYE']);
  });

  it('a second challenge after our credentials fails with SipAuthError and ended auth-failed', async () => {
    const peer = await UdpPeer.start((req, p) => {
      if (req.method === 'INVITE')
        p.reply(req, 401, 'Unauthorized', [['WWW-Authenticate', 'Digest realm="r", nonce="n1"']]);
    });
    const { c } = client(peer, { auth: { username: 'u', password: 'p' } });
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    const err = await rejection(call.answered);
    expect(err).toBeInstanceOf(SipAuthError);
    expect((err as SipAuthError).status).toBe(401);
    expect(await call.ended).toMatchObject({ reason: 'auth-failed', status: 401 });
    const invites = peer.received.filter(
      (m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE',
    );
    expect(invites).toHaveLength(2);
    expect(invites[1]!.headers.get('Authorization')).toMatch(/^Digest username="u", realm="r", nonce="n1"/);
    await peer.waitFor(() => peer.methods().filter((m) => m === 'ACK').length === 2);
  });

  it('a challenge without configured credentials fails with SipAuthError at once', async () => {
    const peer = await UdpPeer.start((req, p) => {
      if (req.method === 'INVITE')
        p.reply(req, 407, 'Proxy Authentication Required', [
          ['Proxy-Authenticate', 'Digest realm="r", nonce="n"'],
        ]);
    });
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    expect(await rejection(call.answered)).toBeInstanceOf(SipAuthError);
    expect(await call.ended).toMatchObject({ reason: 'auth-failed', status: 407 });
  });

  it('no response at all: Timer B (64·T1) ends the call with timeout and SipTimeoutError', async () => {
    const peer = await UdpPeer.start(() => {});
    const { c } = client(peer, { timers: { t1: 10 } });
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    const t0 = Date.now();
    expect(await rejection(call.answered)).toBeInstanceOf(SipTimeoutError);
    expect(await call.ended).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(await call.ended).toMatchObject({ status: 408 });
    await new Promise((r) => setTimeout(r, 50)); // let the last datagram land at the peer
    // Timer A: 0, 10, 30, 70, 150, 310, 630 ms → 7 copies of the INVITE before Timer B at
    // 640 ms; on a loaded machine a late Timer A can push the 7th past Timer B (real clock
    // here; the exact schedule is pinned with the fake clock in transaction-client-invite).
    const methods = peer.methods();
    expect(methods.every((m) => m === 'INVITE')).toBe(true);
    expect(methods.length).toBeGreaterThanOrEqual(6);
    expect(methods.length).toBeLessThanOrEqual(7);
  });

  it('an SDP answer with no common codec: BYE, and answered rejects with SdpNegotiationError', async () => {
    const g722 = SDP_ANSWER.replace('RTP/AVP 0', 'RTP/AVP 9').replace(
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:9 G722/8000',
    );
    const peer = await UdpPeer.start(answering([], g722));
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    expect(await rejection(call.answered)).toBeInstanceOf(SdpNegotiationError);
    expect(await call.ended).toMatchObject({ reason: 'negotiation-failed', status: 200 });
    expect(peer.methods().filter((m) => /^[A-Z]/.test(m))).toEqual(['INVITE', 'ACK', 'BYE']);
  });

  it('maxDurationMs hangs up with BYE and ended max-duration', async () => {
    const peer = await UdpPeer.start(answering());
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER, maxDurationMs: 150 });
    await call.answered;
    expect(await call.ended).toEqual({ reason: 'max-duration', status: 200 });
  });

  it('session timer (RFC 4028): with Session-Expires refresher=uac the session is refreshed by re-INVITE at half the interval, and the 2xx is ACKed', async () => {
    const peer = await UdpPeer.start((req, p) => {
      if (req.method === 'INVITE')
        p.reply(req, 200, 'OK', [['Session-Expires', '1;refresher=uac']], SDP_ANSWER);
      if (req.method === 'BYE') p.reply(req, 200, 'OK');
    });
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    await call.answered;
    const t0 = Date.now();
    await peer.waitFor(() => peer.methods().filter((m) => m === 'INVITE').length === 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    const refresh = peer.received.filter(
      (m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE',
    )[1]!;
    expect(refresh.headers.get('CSeq')).toBe('2 INVITE');
    expect(refresh.headers.get('Session-Expires')).toBe('1;refresher=uac');
    expect(refresh.headers.get('To')).toMatch(/;tag=peer1$/);
    expect(new TextDecoder().decode(refresh.body)).toBe(OFFER);
    await peer.waitFor(() =>
      peer.received.some(
        (m) => m.kind === 'request' && m.method === 'ACK' && m.headers.get('CSeq') === '2 ACK',
      ),
    );
    expect(call.state).toBe('answered');
    await call.hangup();
  });

  it('an AbortSignal cancels a ringing call: CANCEL, 487 ACKed, ended cancelled with AbortedError', async () => {
    const peer = await UdpPeer.start((req, p) => {
      if (req.method === 'INVITE') p.reply(req, 180, 'Ringing');
      if (req.method === 'CANCEL') {
        p.reply(req, 200, 'OK');
        const invite = p.received.find(
          (m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE',
        )!;
        p.reply(invite, 487, 'Request Terminated');
      }
    });
    const { c } = client(peer);
    const ac = new AbortController();
    const call = c.invite({ to: '+919876543210', sdp: OFFER, signal: ac.signal });
    call.once('progress', () => ac.abort());
    expect(await rejection(call.answered)).toBeInstanceOf(AbortedError);
    expect(await call.ended).toMatchObject({ reason: 'cancelled', status: 487 });
    await peer.waitFor(() => peer.methods().includes('ACK'));
    expect(peer.methods().filter((m) => /^[A-Z]/.test(m))).toEqual(['INVITE', 'CANCEL', 'ACK']);
  });

  it('an invalid callee rejects answered (never throws from invite, never an unhandled rejection)', async () => {
    const peer = await UdpPeer.start(() => {});
    const { c } = client(peer);
    const call = c.invite({ to: 'not a number', sdp: OFFER });
    const err = await rejection(call.answered);
    expect((err as Error).name).toBe('InvalidPhoneNumberError');
    expect((await call.ended).reason).toBe('rejected');
    c.invite({ to: 'also bad' }); // never awaited: must not surface as an unhandled rejection
    expect(peer.received).toHaveLength(0);
  });

  it('answers OPTIONS from the trunk with 200, refuses an inbound INVITE with 403 and requests from other addresses with 403', async () => {
    const peer = await UdpPeer.start(() => {});
    const { c } = client(peer);
    await c.start();
    const req = (method: string, n: number) =>
      createRequest(method, `sip:bridge@127.0.0.1:${c.localPort}`, [
        ['Via', `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ood${n};rport`],
        ['Max-Forwards', '70'],
        ['From', '<sip:exotel@127.0.0.1>;tag=x'],
        ['To', '<sip:bridge@127.0.0.1>'],
        ['Call-ID', `ood-${n}`],
        ['CSeq', `1 ${method}`],
      ]);
    peer.send(req('OPTIONS', 1), c.localPort);
    peer.send(req('INVITE', 2), c.localPort);
    await peer.waitFor(() => peer.received.length === 2);
    const statuses = peer.received.map((m) =>
      m.kind === 'response' ? `${m.status} ${m.headers.get('CSeq')}` : '',
    );
    expect(statuses.sort()).toEqual(['200 1 OPTIONS', '403 1 INVITE']);
    const ok = peer.received.find((m) => m.kind === 'response' && m.status === 200)!;
    expect(ok.headers.get('Allow')).toBe('INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY');
    expect(ok.headers.get('To')).toMatch(/;tag=/);

    // Another address (127.0.0.2 is not the trunk).
    const stranger = await UdpPeer.start(() => {}, '127.0.0.2');
    stranger.send(
      createRequest('OPTIONS', `sip:bridge@127.0.0.1:${c.localPort}`, [
        ['Via', `SIP/2.0/UDP 127.0.0.2:${stranger.port};branch=z9hG4bK-x;rport`],
        ['From', '<sip:x@127.0.0.2>;tag=y'],
        ['To', '<sip:bridge@127.0.0.1>'],
        ['Call-ID', 'stranger'],
        ['CSeq', '1 OPTIONS'],
      ]),
      c.localPort,
    );
    await stranger.waitFor(() => stranger.received.length === 1);
    expect(stranger.received[0]).toMatchObject({ kind: 'response', status: 403 });
  });

  it('garbage datagrams do not disturb a call in progress', async () => {
    const peer = await UdpPeer.start(answering());
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    await call.answered;
    peer.sock.send(Buffer.from('\x00\x01garbage that is not SIP at all\r\n\r\n'), c.localPort, '127.0.0.1');
    peer.sock.send(Buffer.from('INVITE nonsense\r\n\r\n'), c.localPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(call.state).toBe('answered');
    await call.hangup();
    expect((await call.ended).reason).toBe('local-bye');
  });

  it('an in-dialog OPTIONS is answered 200; close() ends live calls with BYE', async () => {
    const peer = await UdpPeer.start(answering());
    const { c } = client(peer);
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    await call.answered;
    const invite = peer.received.find((m): m is SipRequest => m.kind === 'request' && m.method === 'INVITE')!;
    peer.send(
      createRequest('OPTIONS', `sip:08044319240@127.0.0.1:${c.localPort}`, [
        ['Via', `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-indlg`],
        ['From', `${invite.headers.get('To')};tag=peer1`],
        ['To', invite.headers.get('From')!],
        ['Call-ID', call.callId],
        ['CSeq', '1 OPTIONS'],
      ]),
    );
    await peer.waitFor(() =>
      peer.received.some((m) => m.kind === 'response' && m.headers.get('CSeq') === '1 OPTIONS'),
    );
    await c.close();
    expect(await call.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(peer.methods()).toContain('BYE');
    expect(c.activeCalls).toHaveLength(0);
  });

  it('options are validated all at once', () => {
    expect(
      () =>
        new ExotelSipClient({
          customerIp: 'not-an-ip',
          fromDomain: '',
          callerId: '',
          sipPort: 70000,
        } as ExotelSipClientOptions),
    ).toThrow(ConfigError);
  });
});

/** Collects whole SIP messages from a TCP socket. */
function framed(sock: TcpSocket): SipMessage[] {
  const out: SipMessage[] = [];
  const framer = new SipStreamFramer();
  sock.on('data', (d: Buffer) => out.push(...framer.push(new Uint8Array(d))));
  return out;
}

describe('ExotelSipClient over TCP (scripted peer)', () => {
  it('a BYE from the trunk on a new connection to our listener is answered there and ends the call', async () => {
    const sockets: TcpSocket[] = [];
    let inviteSeen: SipRequest | undefined;
    let okSent: ReturnType<typeof createResponse> | undefined;
    const server = createServer((sock) => {
      sockets.push(sock);
      const msgs = framed(sock);
      sock.on('data', () => {
        const m = msgs.find((x): x is SipRequest => x.kind === 'request' && x.method === 'INVITE');
        if (m !== undefined && inviteSeen === undefined) {
          inviteSeen = m;
          okSent = createResponse(200, 'OK', [], SDP_ANSWER);
          for (const v of m.headers.getAll('Via')) okSent.headers.append('Via', v);
          okSent.headers.append('From', m.headers.get('From')!);
          okSent.headers.append('To', `${m.headers.get('To')!};tag=tcp1`);
          okSent.headers.append('Call-ID', m.headers.get('Call-ID')!);
          okSent.headers.append('CSeq', m.headers.get('CSeq')!);
          okSent.headers.append('Contact', '<sip:peer@127.0.0.1:5999;transport=tcp>');
          okSent.headers.append('Content-Type', 'application/sdp');
          sock.write(serializeSipMessage(okSent));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const port = (server.address() as { port: number }).port;
    const c = new ExotelSipClient({
      sipHost: '127.0.0.1',
      sipPort: port,
      transport: 'tcp',
      customerIp: '127.0.0.1',
      customerSipPort: 0,
      fromDomain: 'acme.sip.exotel.com',
      callerId: '08044319240',
    });
    cleanups.push(() => c.close());
    const call = c.invite({ to: '+919876543210', sdp: OFFER });
    await call.answered;
    expect(c.observedAddress).toBeUndefined(); // this peer adds no received/rport

    // The trunk sends BYE on a connection of its own to our listener.
    const bye = createRequest('BYE', `sip:08044319240@127.0.0.1:${c.localPort};transport=tcp`, [
      ['Via', 'SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-bye-new-conn'],
      ['Max-Forwards', '70'],
      ['From', okSent!.headers.get('To')!],
      ['To', inviteSeen!.headers.get('From')!],
      ['Call-ID', call.callId],
      ['CSeq', '1 BYE'],
    ]);
    const second = connect(c.localPort, '127.0.0.1');
    cleanups.push(() => void second.destroy());
    const answers = framed(second);
    await new Promise<void>((r) => second.once('connect', () => r()));
    second.write(serializeSipMessage(bye));
    expect(await call.ended).toEqual({ reason: 'remote-bye' });
    const end = Date.now() + 2000;
    while (answers.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(answers[0]).toMatchObject({ kind: 'response', status: 200 });
    expect(answers[0]!.headers.get('CSeq')).toBe('1 BYE');
  });
});
