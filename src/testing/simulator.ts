/**
 * `ExotelSimulator`: a real SIP/RTP server on TCP and UDP that behaves like Exotel's vSIP
 * trunk as its public documentation describes it, for tests, the demo and users' own
 * tests. It checks the From domain, the caller id and the source IP (403), requires an
 * E.164 Request-URI (404), answers PCMA-first, can ring, reject, send early media, send RTP
 * from a port other than the one it advertises (to exercise latching), play a tone or
 * samples, record what it hears, report DTMF, challenge with digest, and hang up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { BridgeError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  createRequest,
  createResponse,
  REASON_PHRASES,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../sip/message.js';
import { parseSipMessage } from '../sip/parser.js';
import { serializeSipMessage } from '../sip/serializer.js';
import { SipStreamFramer } from '../sip/framing.js';
import {
  getCallId,
  getCSeq,
  getContact,
  getFrom,
  getVias,
  formatVia,
  parseAuthChallenge,
} from '../sip/headers.js';
import { parseUri } from '../sip/uri.js';
import { isE164 } from '../sip/phone.js';
import { newBranch, newTag } from '../sip/ids.js';
import { buildDigestAuthorization } from '../sip/digest.js';
import { createSdpAnswer, negotiateSdp, type NegotiatedSdp } from '../sip/sdp.js';
import { RtpMediaBridge } from '../rtp/bridge.js';
import { generateTone } from '../rtp/goertzel.js';
import type { RtpStats } from '../rtp/stats.js';

/** How the simulated far end behaves for one call. */
export interface CallBehaviour {
  /** Send 100 Trying at once (default true). */
  trying: boolean;
  /** Delay before 180 Ringing (or 183 with SDP when `earlyMedia`), ms (default 50). */
  ringAfterMs: number;
  /** Send 183 Session Progress with SDP and start media before the answer (default false). */
  earlyMedia: boolean;
  /** Delay from the INVITE to the 200 OK, ms (default 200). */
  answerAfterMs: number;
  /** Answer with this final status instead (after `ringAfterMs`). */
  reject?: { status: number; reason?: string };
  /** Ring until cancelled. */
  noAnswer?: boolean;
  /** Codecs accepted, in preference order (default PCMA, PCMU). */
  codecs: ('PCMA' | 'PCMU')[];
  /** Advertise one RTP port in SDP and send from another (default false). */
  rtpFromOtherPort: boolean;
  /** What the far end says, looped (default a 440 Hz tone). `null`: silence. */
  play: { toneHz: number; amplitude?: number } | { samples: Int16Array } | null;
  /** Hang up (BYE) this long after the ACK. */
  hangupAfterMs?: number;
  /** Stop all RTP this long after the ACK (to exercise media timeouts). */
  dropRtpAfterMs?: number;
}

export interface ExotelSimulatorOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port for both TCP and UDP (default 0: a free one). */
  port?: number;
  /** Transports to serve (default both). */
  transports?: ('tcp' | 'udp')[];
  /** If set, the From host must equal it (else 403). */
  fromDomain?: string;
  /** If set, the From user must be one of these (else 403). */
  callerIds?: string[];
  /** If set, requests from other source IPs get 403. */
  allowedSourceIps?: string[];
  /** RTP address (default `host`). */
  mediaIp?: string;
  /** Add a Record-Route (lr) pointing at the simulator to the 200 OK. */
  recordRoute?: boolean;
  /** Challenge the first INVITE with 401 (or 407 when `proxy`) and verify the retry. */
  auth?: { realm: string; username: string; password: string; proxy?: boolean };
  /** Per-call behaviour, or a function of the INVITE. */
  behaviour?: Partial<CallBehaviour> | ((invite: SipRequest) => Partial<CallBehaviour>);
  logger?: Logger;
}

/** A request the simulator received, as seen on the wire. */
export interface ReceivedRequest {
  method: string;
  uri: string;
  callId: string;
  transport: 'tcp' | 'udp';
  source: { address: string; port: number };
  message: SipRequest;
}

export interface ExotelSimulatorEvents {
  invite: [request: SipRequest];
  call: [call: SimulatedCall];
  rejected: [info: { status: number; reason: string; request: SipRequest }];
}

const DEFAULT_BEHAVIOUR: CallBehaviour = {
  trying: true,
  ringAfterMs: 50,
  earlyMedia: false,
  answerAfterMs: 200,
  codecs: ['PCMA', 'PCMU'],
  rtpFromOtherPort: false,
  play: { toneHz: 440, amplitude: 8000 },
};

const MAX_RECORD_SAMPLES = 8000 * 60;
const T1 = 500;
const T2 = 4000;

interface Flow {
  transport: 'tcp' | 'udp';
  address: string;
  port: number;
  send(msg: SipMessage): void;
  alive(): boolean;
}

/** A simulated Exotel trunk. */
export class ExotelSimulator extends EventEmitter<ExotelSimulatorEvents> {
  /** Every call that got past the checks, in order. */
  readonly calls: SimulatedCall[] = [];
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[] = [];
  private tcp: Server | undefined;
  private udp: UdpSocket | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly byCallId = new Map<string, SimulatedCall>();
  private readonly nonces = new Set<string>();
  private readonly log: Logger;
  private boundPort = 0;
  private closed = false;

  constructor(private readonly options: ExotelSimulatorOptions = {}) {
    super();
    this.log = options.logger ?? silentLogger;
  }

  /** Where it listens. */
  get address(): { host: string; port: number } {
    return { host: this.options.host ?? '127.0.0.1', port: this.boundPort };
  }

  /** Starts listening on TCP and/or UDP (the same port for both). */
  async start(): Promise<{ port: number }> {
    const host = this.options.host ?? '127.0.0.1';
    const transports = this.options.transports ?? ['tcp', 'udp'];
    let port = this.options.port ?? 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        if (transports.includes('tcp')) port = await this.listenTcp(host, port);
        if (transports.includes('udp')) port = await this.bindUdp(host, port);
        this.boundPort = port;
        return { port };
      } catch (err) {
        await this.closeListeners();
        if (this.options.port !== undefined && this.options.port !== 0) throw err;
        port = 0;
      }
    }
    throw new BridgeError('SIP_TRANSPORT', 'the simulator could not find a port free for TCP and UDP');
  }

  /** Ends live calls (BYE), closes every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.calls.map((c) => c.hangup().catch(() => undefined)));
    for (const c of this.calls) await c.dispose();
    await this.closeListeners();
  }

  /**
   * Resets every TCP connection (RST, no FIN), as a trunk that crashed or lost its state
   * would. Calls in progress are left as they are: no BYE is sent.
   */
  resetConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  private listenTcp(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = createServer((sock) => this.onConnection(sock));
      srv.once('error', reject);
      srv.listen(port, host, () => {
        this.tcp = srv;
        const a = srv.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  private bindUdp(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(port, host, () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined);
        this.udp = s;
        s.on('message', (data, rinfo) => {
          let msg: SipMessage;
          try {
            msg = parseSipMessage(data, { transport: 'datagram' });
          } catch {
            return;
          }
          const flow: Flow = {
            transport: 'udp',
            address: rinfo.address,
            port: rinfo.port,
            send: (m) => {
              if (!this.closed || this.udp) s.send(serializeSipMessage(m), rinfo.port, rinfo.address);
            },
            alive: () => this.udp !== undefined,
          };
          this.onMessage(msg, flow);
        });
        resolve(s.address().port);
      });
    });
  }

  private async closeListeners(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock);
    const framer = new SipStreamFramer();
    const flow: Flow = {
      transport: 'tcp',
      address: sock.remoteAddress ?? '',
      port: sock.remotePort ?? 0,
      send: (m) => {
        if (!sock.destroyed) sock.write(serializeSipMessage(m));
      },
      alive: () => !sock.destroyed,
    };
    sock.on('data', (chunk) => {
      let msgs: SipMessage[];
      try {
        msgs = framer.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const m of msgs) this.onMessage(m, flow);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  private onMessage(msg: SipMessage, flow: Flow): void {
    if (msg.kind === 'response') {
      this.byCallId.get(safeCallId(msg))?.onResponse(msg);
      return;
    }
    const callId = safeCallId(msg);
    this.requests.push({
      method: msg.method,
      uri: msg.uri,
      callId,
      transport: flow.transport,
      source: { address: flow.address, port: flow.port },
      message: msg,
    });
    const call = this.byCallId.get(callId);
    switch (msg.method) {
      case 'INVITE':
        if (call && call.matchesInvite(msg)) call.retransmittedInvite(flow);
        else if (call && call.state === 'confirmed') flow.send(this.response(msg, 491, flow));
        else this.onInvite(msg, flow);
        return;
      case 'ACK':
        call?.onAck(msg);
        return;
      case 'BYE':
        if (!call) return flow.send(this.response(msg, 481, flow));
        flow.send(this.response(msg, 200, flow, call.localTag));
        call.remoteEnded('caller');
        return;
      case 'CANCEL':
        if (!call) return flow.send(this.response(msg, 481, flow));
        flow.send(this.response(msg, 200, flow, call.localTag));
        call.cancelled();
        return;
      case 'OPTIONS':
        return flow.send(this.response(msg, 200, flow));
      default:
        return flow.send(this.response(msg, 405, flow));
    }
  }

  private onInvite(req: SipRequest, flow: Flow): void {
    this.emit('invite', req);
    const o = this.options;
    const reject = (status: number) => {
      const res = this.response(req, status, flow, newTag());
      if (status === 401 || status === 407) {
        const nonce = randomBytes(12).toString('hex');
        this.nonces.add(nonce);
        res.headers.append(
          status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate',
          `Digest realm="${o.auth!.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"`,
        );
      }
      flow.send(res);
      this.emit('rejected', { status, reason: res.reason, request: req });
    };
    let from: ReturnType<typeof getFrom>;
    let user: string | undefined;
    try {
      from = getFrom(req);
      user = parseUri(req.uri).user;
    } catch {
      return reject(400);
    }
    if (o.allowedSourceIps && !o.allowedSourceIps.includes(flow.address)) return reject(403);
    if (o.fromDomain !== undefined && from.uri.host.toLowerCase() !== o.fromDomain.toLowerCase())
      return reject(403);
    if (o.callerIds && !o.callerIds.includes(from.uri.user ?? '')) return reject(403);
    if (user === undefined || !isE164(user)) return reject(404);
    if (o.auth) {
      const verdict = this.checkAuth(req);
      if (verdict !== 'ok') return reject(verdict);
    }
    const spec = typeof o.behaviour === 'function' ? o.behaviour(req) : o.behaviour;
    const behaviour: CallBehaviour = { ...DEFAULT_BEHAVIOUR, ...spec };
    const call = new SimulatedCall(this, req, flow, behaviour, user, this.log);
    this.calls.push(call);
    this.byCallId.set(call.callId, call);
    this.emit('call', call);
    call.begin();
  }

  private checkAuth(req: SipRequest): 'ok' | 401 | 403 | 407 {
    const auth = this.options.auth!;
    const status = auth.proxy ? 407 : 401;
    const header = req.headers.get(auth.proxy ? 'Proxy-Authorization' : 'Authorization');
    if (header === undefined) return status;
    try {
      const got = parseAuthChallenge(header, auth.proxy ? 'Proxy-Authorization' : 'Authorization');
      const p = (k: string) => unquote(got.params.get(k) ?? '');
      const nonce = p('nonce');
      if (!this.nonces.has(nonce) || p('username') !== auth.username) return 403;
      const qop = p('qop');
      const expected = buildDigestAuthorization(
        {
          scheme: 'Digest',
          realm: auth.realm,
          nonce,
          algorithm: 'MD5',
          qop: qop ? [qop] : undefined,
          params: new Map(),
        },
        {
          username: auth.username,
          password: auth.password,
          method: req.method,
          uri: p('uri'),
          cnonce: p('cnonce') || undefined,
          nc: p('nc') ? parseInt(p('nc'), 16) : undefined,
          status,
        },
      );
      const want = /response="([0-9a-f]+)"/.exec(expected.value)?.[1];
      return want !== undefined && want === p('response') ? 'ok' : 403;
    } catch {
      return 403;
    }
  }

  /** @internal */
  get settings(): ExotelSimulatorOptions {
    return this.options;
  }

  /** @internal builds a response to `req`, copying Via (with received/rport), From, To, Call-ID, CSeq. */
  response(req: SipRequest, status: number, flow: Flow, toTag?: string): SipResponse {
    const res = createResponse(status, REASON_PHRASES[status] ?? 'Unknown');
    let vias: ReturnType<typeof getVias>;
    try {
      vias = getVias(req);
    } catch {
      vias = [];
    }
    vias.forEach((v, i) => {
      if (i === 0 && flow.transport === 'udp') {
        const top = { ...v, params: new Map(v.params) };
        top.params.set('received', flow.address);
        if (v.rport !== undefined) top.params.set('rport', String(flow.port));
        res.headers.append('Via', formatVia(top));
      } else res.headers.append('Via', formatVia(v));
    });
    for (const name of ['From', 'Call-ID', 'CSeq']) {
      const v = req.headers.get(name);
      if (v !== undefined) res.headers.append(name, v);
    }
    const to = req.headers.get('To') ?? '';
    res.headers.append('To', toTag !== undefined && !/;\s*tag=/i.test(to) ? `${to};tag=${toTag}` : to);
    res.headers.append('Server', 'exotel-simulator');
    return res;
  }

  /** @internal */
  forget(call: SimulatedCall): void {
    if (this.byCallId.get(call.callId) === call) this.byCallId.delete(call.callId);
  }
}

type SimCallState = 'proceeding' | 'answered' | 'confirmed' | 'ended';

/** One call the simulator accepted. */
export class SimulatedCall {
  readonly callId: string;
  /** The dialled number (E.164) from the Request-URI. */
  readonly to: string;
  /** The caller's From user (the Exophone). */
  readonly from: string;
  readonly requestUri: string;
  readonly invite: SipRequest;
  readonly localTag = newTag();
  /** The media in effect, once answered (or in early media). */
  negotiated: NegotiatedSdp | undefined;
  /** Digits received (RFC 4733). */
  readonly dtmf: string[] = [];
  /** Who ended the call, once ended. */
  endedBy: 'caller' | 'simulator' | 'cancel' | undefined;
  /** Resolves when the ACK for the 200 arrives. */
  readonly answered: Promise<void>;
  /** Resolves when the call has ended. */
  readonly ended: Promise<{ by: 'caller' | 'simulator' | 'cancel' }>;
  state: SimCallState = 'proceeding';

  private media: RtpMediaBridge | undefined;
  private decoy: UdpSocket | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastResponse: SipResponse | undefined;
  private final: SipResponse | undefined;
  private retransmit: NodeJS.Timeout | undefined;
  private readonly heardBuf = new Int16Array(MAX_RECORD_SAMPLES);
  private heardLen = 0;
  private playTimer: NodeJS.Timeout | undefined;
  private playPos = 0;
  private cseq = 1;
  private byeDone: Promise<void> | undefined;
  private byeResolve: (() => void) | undefined;
  private resolveAnswered!: () => void;
  private resolveEnded!: (v: { by: 'caller' | 'simulator' | 'cancel' }) => void;
  private disposed: Promise<void> | undefined;

  constructor(
    private readonly sim: ExotelSimulator,
    invite: SipRequest,
    private flow: Flow,
    readonly behaviour: CallBehaviour,
    to: string,
    private readonly log: Logger,
  ) {
    this.invite = invite;
    this.callId = getCallId(invite);
    this.to = to;
    this.from = getFrom(invite).uri.user ?? '';
    this.requestUri = invite.uri;
    this.answered = new Promise((r) => (this.resolveAnswered = r));
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  /** The INVITE's headers, for tests that check what reached the trunk. */
  get headers(): SipRequest['headers'] {
    return this.invite.headers;
  }

  /** Everything heard so far, decoded to 8 kHz PCM (at most 60 s). */
  heard(): Int16Array {
    return this.heardBuf.slice(0, this.heardLen);
  }

  /** RTP statistics of the simulator's side. */
  stats(): RtpStats | undefined {
    return this.media?.stats();
  }

  /** Sends DTMF digits as RFC 4733 events. */
  async sendDtmf(digits: string): Promise<void> {
    await this.media?.sendDtmf(digits);
  }

  /** Hangs up with BYE (after the answer) and waits for the 200. */
  hangup(): Promise<void> {
    if (this.state === 'proceeding' && this.final === undefined) {
      // Not answered yet: decline it.
      this.sendFinal(this.sim.response(this.invite, 480, this.flow, this.localTag));
      this.finish('simulator');
      return Promise.resolve();
    }
    if (this.state === 'ended') return this.byeDone ?? Promise.resolve();
    this.byeDone ??= this.sendBye();
    return this.byeDone;
  }

  /** @internal */
  matchesInvite(req: SipRequest): boolean {
    try {
      return getVias(req)[0]?.branch === getVias(this.invite)[0]?.branch;
    } catch {
      return false;
    }
  }

  /** @internal */
  begin(): void {
    const b = this.behaviour;
    if (b.trying) this.send(this.sim.response(this.invite, 100, this.flow));
    this.after(b.ringAfterMs, () => {
      if (this.state !== 'proceeding') return;
      if (b.reject) {
        const res = this.sim.response(this.invite, b.reject.status, this.flow, this.localTag);
        if (b.reject.reason) res.reason = b.reject.reason;
        this.sendFinal(res);
        this.finish('simulator');
        return;
      }
      if (b.earlyMedia) {
        void this.startMedia().then((sdp) => {
          if (this.state !== 'proceeding' || sdp === undefined) return;
          const res = this.withContact(this.sim.response(this.invite, 183, this.flow, this.localTag));
          res.headers.append('Content-Type', 'application/sdp');
          res.body = new TextEncoder().encode(sdp);
          this.send(res);
        });
      } else {
        this.send(this.withContact(this.sim.response(this.invite, 180, this.flow, this.localTag)));
      }
    });
    if (b.noAnswer || b.reject) return;
    this.after(Math.max(b.answerAfterMs, b.ringAfterMs), () => void this.answer());
  }

  private async answer(): Promise<void> {
    if (this.state !== 'proceeding') return;
    const sdp = await this.startMedia();
    if (this.state !== 'proceeding') return;
    if (sdp === undefined) {
      this.sendFinal(this.sim.response(this.invite, 488, this.flow, this.localTag));
      this.finish('simulator');
      return;
    }
    const res = this.withContact(this.sim.response(this.invite, 200, this.flow, this.localTag));
    if (this.simOptions().recordRoute) {
      const { host, port } = this.sim.address;
      res.headers.prepend('Record-Route', `<sip:${host}:${port};transport=${this.flow.transport};lr>`);
    }
    res.headers.append('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(sdp);
    this.state = 'answered';
    this.sendFinal(res);
  }

  private simOptions(): ExotelSimulatorOptions {
    return this.sim.settings;
  }

  private withContact(res: SipResponse): SipResponse {
    const { host, port } = this.sim.address;
    res.headers.append('Contact', `<sip:${this.to}@${host}:${port};transport=${this.flow.transport}>`);
    return res;
  }

  /** Opens media for the caller's offer and returns our SDP answer (undefined: no common codec). */
  private async startMedia(): Promise<string | undefined> {
    if (this.media) return this.answerSdp;
    const offer = new TextDecoder().decode(this.invite.body);
    const mediaIp = this.simOptions().mediaIp ?? this.sim.address.host;
    const media = new RtpMediaBridge({
      bindIp: mediaIp,
      portRange: [30000, 40000],
      jitterTargetMs: 40,
      mediaTimeoutMs: 0,
      noMediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
      logger: this.log,
    });
    this.media = media;
    const local = await media.open();
    let advertisedPort = local.port;
    if (this.behaviour.rtpFromOtherPort) {
      this.decoy = createSocket(mediaIp.includes(':') ? 'udp6' : 'udp4');
      const decoy = this.decoy;
      await new Promise<void>((r) => decoy.bind(0, mediaIp, () => r()));
      decoy.on('message', () => undefined);
      advertisedPort = decoy.address().port;
    }
    let answer: string;
    try {
      answer = createSdpAnswer(offer, { ip: local.ip, port: advertisedPort, codecs: this.behaviour.codecs });
      this.negotiated = negotiateSdp(answer, offer);
    } catch {
      return undefined;
    }
    const neg = this.negotiated;
    media.on('audio', ({ samples }) => {
      const n = Math.min(samples.length, MAX_RECORD_SAMPLES - this.heardLen);
      if (n > 0) {
        this.heardBuf.set(samples.subarray(0, n), this.heardLen);
        this.heardLen += n;
      }
    });
    media.on('dtmf', ({ digit }) => this.dtmf.push(digit));
    media.start({
      remoteAddress: neg.remoteAddress,
      remotePort: neg.remotePort,
      codec: neg.codec,
      payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType,
    });
    this.startPlaying();
    this.answerSdp = answer;
    return answer;
  }

  private answerSdp: string | undefined;

  private startPlaying(): void {
    const play = this.behaviour.play;
    if (play === null || this.media === undefined) return;
    const frame = new Int16Array(160);
    const tick = () => {
      if (this.media === undefined) return;
      if ('toneHz' in play) {
        frame.set(generateTone(play.toneHz, 8000, 160, play.amplitude ?? 8000, this.playPos));
      } else {
        for (let i = 0; i < 160; i++)
          frame[i] = play.samples[(this.playPos + i) % Math.max(1, play.samples.length)] ?? 0;
      }
      this.playPos += 160;
      this.media.writeAudio(frame, 8000);
    };
    tick();
    this.playTimer = setInterval(tick, 20);
  }

  private stopMedia(): Promise<void> {
    clearInterval(this.playTimer);
    this.playTimer = undefined;
    const media = this.media;
    this.media = undefined;
    const decoy = this.decoy;
    this.decoy = undefined;
    decoy?.close();
    return media ? media.close() : Promise.resolve();
  }

  /** @internal */
  retransmittedInvite(flow: Flow): void {
    this.flow = flow;
    if (this.lastResponse) flow.send(this.lastResponse);
  }

  /** @internal */
  onAck(_ack: SipRequest): void {
    clearTimeout(this.retransmit);
    this.retransmit = undefined;
    if (this.state !== 'answered') return;
    this.state = 'confirmed';
    this.resolveAnswered();
    const b = this.behaviour;
    if (b.hangupAfterMs !== undefined) this.after(b.hangupAfterMs, () => void this.hangup());
    if (b.dropRtpAfterMs !== undefined) this.after(b.dropRtpAfterMs, () => void this.stopMedia());
  }

  /** @internal */
  onResponse(res: SipResponse): void {
    try {
      if (getCSeq(res).method === 'BYE' && res.status >= 200) this.byeResolve?.();
    } catch {
      // ignore
    }
  }

  /** @internal */
  remoteEnded(by: 'caller'): void {
    this.finish(by);
  }

  /** @internal */
  cancelled(): void {
    if (this.state !== 'proceeding') return;
    this.sendFinal(this.sim.response(this.invite, 487, this.flow, this.localTag));
    this.finish('cancel');
  }

  private async sendBye(): Promise<void> {
    const { host, port } = this.sim.address;
    let target = this.invite.uri;
    try {
      const c = getContact(this.invite);
      if (c && !c.star && c.contacts[0]) target = c.contacts[0].uriText;
    } catch {
      // keep the Request-URI
    }
    const to = this.invite.headers.get('From') ?? '';
    const fromHeader = this.invite.headers.get('To') ?? '';
    this.cseq += 1;
    const bye = createRequest('BYE', target, [
      ['Via', `SIP/2.0/${this.flow.transport.toUpperCase()} ${host}:${port};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', /;\s*tag=/i.test(fromHeader) ? fromHeader : `${fromHeader};tag=${this.localTag}`],
      ['To', to],
      ['Call-ID', this.callId],
      ['CSeq', `${this.cseq} BYE`],
    ]);
    const done = new Promise<void>((r) => (this.byeResolve = r));
    this.flow.send(bye);
    this.finish('simulator');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
  }

  private send(res: SipResponse): void {
    this.lastResponse = res;
    this.flow.send(res);
  }

  private sendFinal(res: SipResponse): void {
    this.final = res;
    this.send(res);
    if (this.flow.transport !== 'udp' || res.status < 200) return;
    // UDP: retransmit the final response until the ACK (T1 doubling up to T2), 64·T1 at most.
    let interval = T1;
    let elapsed = 0;
    const again = () => {
      if (this.final !== res || elapsed >= 64 * T1 || this.retransmit === undefined) return;
      this.flow.send(res);
      elapsed += interval;
      interval = Math.min(interval * 2, T2);
      this.retransmit = setTimeout(again, interval);
    };
    this.retransmit = setTimeout(again, interval);
    this.timers.add(this.retransmit);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private finish(by: 'caller' | 'simulator' | 'cancel'): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endedBy = by;
    void this.dispose().then(() => this.resolveEnded({ by }));
  }

  /** @internal releases timers and sockets. */
  dispose(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.retransmit);
    this.retransmit = undefined;
    this.disposed ??= this.stopMedia().then(() => this.sim.forget(this));
    return this.disposed;
  }
}

function safeCallId(msg: SipMessage): string {
  try {
    return getCallId(msg);
  } catch {
    return '';
  }
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}
