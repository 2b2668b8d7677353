/**
 * `SimulatedInboundCall`: the simulator calling the customer, as Exotel's trunk does when
 * a flow routes a call to the SIP trunk (docs/exotel.md, "Inbound calls over the trunk").
 * The INVITE carries Exotel's headers (`X-Exotel-CallSid`/`LegSid`/`TrunkSid`), a
 * `Record-Route` of the simulator and an SDP offer (PCMA, PCMU, telephone-event/101) on
 * the call's own RTP socket ({@link SimulatedMedia}: it plays, records and handles DTMF).
 *
 * As a UAC (RFC 3261 §13.2): 1xx (an SDP in a 183 starts early media), the 2xx ACKed,
 * a non-2xx ACKed (§17.1.1.3), CANCEL before the final response and BYE after it
 * (`hangup()`), a BYE from the callee answered 200. In-dialog requests go to the 2xx's
 * Contact on the call's own flow, with Route headers from the 2xx's Record-Route
 * (reversed, our own entry left out: the simulator is that proxy). Over UDP the INVITE
 * (Timer A), CANCEL and BYE are retransmitted. Every timer runs on the simulator's clock.
 */
import { Buffer } from 'node:buffer';
import { bestEffortAsync } from '../best-effort.js';
import { BridgeError, toBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { cryptoRandom } from '../random.js';
import type { RtpStats } from '../rtp/stats.js';
import type { NegotiatedSdp } from '../sdp/negotiate.js';
import { buildCancel, buildNon2xxAck, buildResponse } from '../sip/builders.js';
import { getContact, getCSeq, getRecordRoute } from '../sip/headers.js';
import { newBranch, newCallId, newTag } from '../sip/ids.js';
import {
  COMPACT_HEADER_NAMES,
  REASON_PHRASES,
  createRequest,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../sip/message.js';
import { serializeSipMessage } from '../sip/serializer.js';
import { sdpBody } from '../sip/session.js';
import { DEFAULT_SIP_TIMERS, TimerSet } from '../sip/timers.js';
import { SimulatedMedia } from './simulator-media.js';
import {
  DEFAULT_BEHAVIOUR,
  type Flow,
  type InboundCallAnswer,
  type InboundCallEnded,
  type InboundCallOptions,
  type InboundCallState,
  type InboundSimulatorHost,
  type OpenedFlow,
  type SimulatorTransport,
} from './simulator-types.js';

type InboundTimer = 'A' | 'B' | 'E' | 'wait' | 'hangup';

const { t1: T1, t2: T2 } = DEFAULT_SIP_TIMERS;
/** How long a CANCEL waits for the 487, or a BYE for its 200, before the call counts as ended. */
const FINAL_WAIT_MS = 2000;
const SERVER = 'exotel-simulator';
/** Full header name → compact form (RFC 3261 §7.3.3). */
const COMPACT_OF = new Map(Object.entries(COMPACT_HEADER_NAMES).map(([short, full]) => [full, short]));

/** One call from the simulated trunk to the customer. */
export class SimulatedInboundCall {
  /** The call's SIP Call-ID. */
  readonly callId: string;
  /** `X-Exotel-CallSid`, `X-Exotel-LegSid` and `X-Exotel-TrunkSid` of the INVITE. */
  readonly callSid = randomHex(16);
  /** The INVITE's `X-Exotel-LegSid`. */
  readonly legSid = randomHex(16);
  /** The INVITE's `X-Exotel-TrunkSid`. */
  readonly trunkSid = `trmum1${randomHex(10)}`;
  /** The INVITE as sent (its SDP body is set once the RTP socket is open). */
  readonly invite: SipRequest;
  /** Statuses of the provisional responses received, in order. */
  readonly provisional: number[] = [];
  /** The final response to the INVITE, once it came. */
  final: SipResponse | undefined;
  /** The media in effect, once the callee's SDP answer came (183 or 2xx). */
  negotiated: NegotiatedSdp | undefined;
  /** The final response (see {@link InboundCallAnswer}); never rejects. */
  readonly answered: Promise<InboundCallAnswer>;
  /** Resolves once the call has ended and its sockets and timers are released; never rejects. */
  readonly ended: Promise<InboundCallEnded>;

  private current: InboundCallState = 'connecting';
  private readonly transport: SimulatorTransport;
  private readonly media: SimulatedMedia;
  private readonly timers: TimerSet<InboundTimer>;
  private flow: Flow | undefined;
  private opened: OpenedFlow | undefined;
  private remoteTo = '';
  private remoteTarget = '';
  private routeSet: string[] = [];
  private ack: SipRequest | undefined;
  private cancel: SipRequest | undefined;
  private cancelWanted = false;
  private cseq = 1;
  private resolveAnswered!: (a: InboundCallAnswer) => void;
  private resolveEnded!: (e: InboundCallEnded) => void;
  private disposed: Promise<void> | undefined;

  /** @internal Made by `ExotelSimulator.callIn`. */
  constructor(
    private readonly sim: InboundSimulatorHost,
    private readonly options: InboundCallOptions,
    private readonly log: Logger,
  ) {
    const { host, port } = sim.address;
    const t = options.target;
    this.transport = t.transport ?? 'tcp';
    this.callId = newCallId(host);
    this.answered = new Promise((r) => (this.resolveAnswered = r));
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.timers = new TimerSet<InboundTimer>(sim.clock);
    const tp = this.transport;
    const domain = options.fromDomain ?? host;
    this.invite = createRequest('INVITE', `sip:${options.to}@${hostPort(t.host, t.port)}`, [
      ['Via', this.via()],
      ['Record-Route', `<sip:${hostPort(host, port)};transport=${tp};lr>`],
      ['Max-Forwards', '70'],
      ['From', `<sip:${options.from}@${domain}>;tag=${newTag()}`],
      ['To', `<sip:${options.to}@${t.host}>`],
      ['Call-ID', this.callId],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:${options.from}@${hostPort(host, port)};transport=${tp}>`],
      ['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO'],
      ['User-Agent', SERVER],
      ['X-Exotel-CallSid', this.callSid],
      ['X-Exotel-LegSid', this.legSid],
      ['X-Exotel-TrunkSid', this.trunkSid],
      ...Object.entries(options.headers ?? {}),
    ]);
    const behaviour = {
      ...DEFAULT_BEHAVIOUR,
      codecs: options.codecs ?? DEFAULT_BEHAVIOUR.codecs,
      ...(options.play !== undefined ? { play: options.play } : {}),
    };
    const mediaIp = sim.settings.mediaIp ?? host;
    this.media = new SimulatedMedia(mediaIp, behaviour, sim.clock, log);
  }

  /** Where the call is (see {@link InboundCallState}). */
  get state(): InboundCallState {
    return this.current;
  }

  /** Everything heard from the callee so far, decoded to 8 kHz PCM (at most 60 s). */
  heard(): Int16Array {
    return this.media.heard();
  }

  /** Digits received from the callee (RFC 4733). */
  get dtmf(): string[] {
    return this.media.dtmf;
  }

  /** RTP statistics of the simulator's side. */
  stats(): RtpStats {
    return this.media.stats();
  }

  /** Sends DTMF digits as RFC 4733 events (once media flows). */
  sendDtmf(digits: string): Promise<void> {
    return this.media.sendDtmf(digits);
  }

  /**
   * Hangs up: CANCEL before a final response (sent once a 1xx came, as RFC 3261 §9.1
   * asks), BYE after the answer. Resolves once the call has ended (at most 2 s after the
   * CANCEL or BYE without an answer to it). Idempotent.
   */
  hangup(): Promise<void> {
    switch (this.current) {
      case 'connecting':
        this.finish({ by: 'cancel' });
        break;
      case 'calling':
        this.cancelWanted = true;
        this.timers.start('wait', FINAL_WAIT_MS, () => this.finish({ by: 'cancel' }));
        break;
      case 'proceeding':
        this.sendCancel();
        break;
      case 'confirmed':
        this.sendBye();
        break;
      default:
        break;
    }
    return this.ended.then(() => undefined);
  }

  /** @internal Opens media and the connection, then sends the INVITE. */
  begin(): void {
    void bestEffortAsync(this.log, 'simulator inbound call', this.place());
  }

  private async place(): Promise<void> {
    let flow: Flow;
    try {
      const offer = await this.media.answer('');
      if (offer === undefined) throw new BridgeError('INTERNAL', 'the simulator made no SDP offer');
      this.invite.headers.append('Content-Type', 'application/sdp');
      this.invite.body = new TextEncoder().encode(offer.sdp);
      if (this.current !== 'connecting') return;
      const t = this.options.target;
      if (this.transport === 'udp') flow = this.sim.udpFlow(t.host, t.port);
      else {
        this.opened = await this.sim.connect(t, () => this.connectionClosed());
        flow = this.opened;
      }
    } catch (err) {
      this.log.debug({ err: toBridgeError(err).message }, '[SIP] simulator: inbound INVITE not sent');
      this.finish({ by: 'error', status: 503 });
      return;
    }
    if (this.current !== 'connecting') {
      this.opened?.close();
      return;
    }
    this.flow = flow;
    this.current = 'calling';
    this.write(this.invite);
    this.retransmit('A', this.invite, false);
    this.timers.start('B', 64 * T1, () => this.finish({ by: 'error', status: 408 }));
  }

  /** @internal A response with our Call-ID. */
  onResponse(res: SipResponse, _flow: Flow): void {
    let method: string;
    try {
      method = getCSeq(res).method;
    } catch {
      return; // a response without a usable CSeq answers none of our requests
    }
    if (method === 'INVITE') this.onInviteResponse(res);
    else if (method === 'CANCEL' && res.status >= 200) this.timers.stop('E');
    else if (method === 'BYE' && res.status >= 200 && this.current === 'ending') {
      this.finish({ by: 'caller', status: res.status });
    }
  }

  /** @internal A request with our Call-ID (from the callee, in the dialog). */
  onRequest(req: SipRequest, flow: Flow): void {
    const answer = (status: number): void =>
      this.writeTo(flow, buildResponse(req, status, { server: SERVER, source: sourceOf(flow) }));
    switch (req.method) {
      case 'ACK':
        return;
      case 'BYE':
        if (this.current !== 'confirmed' && this.current !== 'ending') return answer(481);
        answer(200);
        this.finish({ by: 'callee' });
        return;
      case 'OPTIONS':
      case 'INFO':
        return answer(200);
      case 'CANCEL':
        return answer(481);
      default:
        // re-INVITE, UPDATE, REFER...: not played by the simulated trunk.
        return answer(501);
    }
  }

  private onInviteResponse(res: SipResponse): void {
    this.timers.stop('A');
    if (res.status < 200) {
      if (this.final !== undefined) return;
      this.timers.stop('B');
      this.provisional.push(res.status);
      if (this.current === 'calling') this.current = 'proceeding';
      this.takeAnswer(res);
      if (this.cancelWanted && this.current === 'proceeding') this.sendCancel();
      return;
    }
    if (this.final !== undefined) {
      // A retransmission of the final response (UDP): the same ACK again.
      if (this.ack !== undefined && res.status === this.final.status) this.write(this.ack);
      return;
    }
    this.final = res;
    this.timers.stop('B');
    const sdp = sdpBody(res);
    if (res.status >= 300) {
      this.ack = buildNon2xxAck(this.invite, res);
      this.write(this.ack);
      this.resolveAnswered({ status: res.status, reason: res.reason, sdp });
      const cancelled = this.cancel !== undefined && res.status === 487;
      this.finish(cancelled ? { by: 'cancel', status: 487 } : { by: 'rejected', status: res.status });
      return;
    }
    this.remoteTo = res.headers.get('To') ?? this.invite.headers.get('To') ?? '';
    this.remoteTarget = contactOf(res) ?? this.invite.uri;
    this.routeSet = routeSetOf(res, this.sim.address);
    this.takeAnswer(res);
    this.ack = this.inDialog('ACK', 1);
    this.write(this.ack);
    this.resolveAnswered({ status: res.status, reason: res.reason, sdp });
    const late = this.current === 'cancelling' || this.cancelWanted;
    this.current = 'confirmed';
    this.timers.stop('E');
    this.timers.stop('wait');
    // A 2xx that crossed our CANCEL: the call is established, so it ends with BYE (§9.1).
    if (late) return this.sendBye();
    const after = this.options.hangupAfterMs;
    if (after !== undefined) this.timers.start('hangup', after, () => this.sendBye());
  }

  private takeAnswer(res: SipResponse): void {
    const sdp = sdpBody(res);
    if (sdp === undefined || !this.media.awaitingAnswer) return;
    this.negotiated = this.media.acceptAnswer(sdp);
  }

  private sendCancel(): void {
    if (this.cancel !== undefined) return;
    this.current = 'cancelling';
    this.cancel = buildCancel(this.invite, SERVER);
    this.write(this.cancel);
    this.retransmit('E', this.cancel, true);
    this.timers.start('wait', FINAL_WAIT_MS, () => this.finish({ by: 'cancel' }));
  }

  private sendBye(): void {
    if (this.current !== 'confirmed') return;
    this.current = 'ending';
    this.timers.stop('hangup');
    this.cseq += 1;
    const bye = this.inDialog('BYE', this.cseq);
    this.write(bye);
    this.retransmit('E', bye, true);
    this.timers.start('wait', FINAL_WAIT_MS, () => this.finish({ by: 'caller' }));
  }

  /** An ACK (for the 2xx) or BYE: to the 2xx's Contact, with the route set, on our flow. */
  private inDialog(method: 'ACK' | 'BYE', seq: number): SipRequest {
    return createRequest(method, this.remoteTarget, [
      ['Via', this.via()],
      ...this.routeSet.map((r): [string, string] => ['Route', r]),
      ['Max-Forwards', '70'],
      ['From', this.invite.headers.get('From') ?? ''],
      ['To', this.remoteTo],
      ['Call-ID', this.callId],
      ['CSeq', `${seq} ${method}`],
      ['User-Agent', SERVER],
    ]);
  }

  private via(): string {
    const { host, port } = this.sim.address;
    return `SIP/2.0/${this.transport.toUpperCase()} ${hostPort(host, port)};branch=${newBranch()};rport`;
  }

  /** Over UDP: sends `msg` again at T1, 2·T1… (capped at T2 for non-INVITE) until stopped. */
  private retransmit(name: 'A' | 'E', msg: SipRequest, capped: boolean): void {
    if (this.transport !== 'udp') return;
    let interval = T1;
    const again = (): void => {
      this.write(msg);
      interval = capped ? Math.min(interval * 2, T2) : interval * 2;
      this.timers.start(name, interval, again);
    };
    this.timers.start(name, interval, again);
  }

  private write(msg: SipMessage): void {
    if (this.flow !== undefined) this.writeTo(this.flow, msg);
  }

  private writeTo(flow: Flow, msg: SipMessage): void {
    const bytes = serializeSipMessage(msg);
    flow.write(this.options.compactHeaders === true ? compactHeaders(bytes) : bytes);
  }

  private connectionClosed(): void {
    if (this.current === 'ended') return;
    this.log.debug('[SIP] simulator: inbound call connection closed');
    this.finish({ by: 'error', status: 503 });
  }

  private finish(result: InboundCallEnded): void {
    if (this.current === 'ended') return;
    this.current = 'ended';
    this.timers.clearAll();
    // Ended without a final response: the status RFC 3261 §8.1.3.1 would make up (or 487).
    const status = result.status ?? 487;
    this.resolveAnswered({ status, reason: REASON_PHRASES[status] ?? 'Unknown', sdp: undefined });
    void bestEffortAsync(this.log, 'simulator inbound call teardown', this.dispose()).then(() =>
      this.resolveEnded(result),
    );
  }

  /** @internal Releases timers, the RTP socket and the connection. Idempotent. */
  dispose(): Promise<void> {
    this.timers.clearAll();
    this.disposed ??= this.media.close().then(() => {
      this.opened?.close();
      this.sim.forgetInbound(this);
    });
    return this.disposed;
  }
}

/**
 * The same message with every header that has a compact form written in it (`Call-ID:` →
 * `i:`, `Content-Length:` → `l:`…). The serializer always writes full names.
 */
export function compactHeaders(bytes: Uint8Array): Uint8Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return bytes;
  const lines = buf.subarray(0, end).toString('utf8').split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const short = colon > 0 ? COMPACT_OF.get(line.slice(0, colon)) : undefined;
    if (short !== undefined) lines[i] = `${short}:${line.slice(colon + 1)}`;
  }
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), buf.subarray(end)]);
}

function routeSetOf(res: SipResponse, self: { host: string; port: number }): string[] {
  let entries: ReturnType<typeof getRecordRoute>;
  try {
    entries = getRecordRoute(res);
  } catch {
    return []; // an unparsable Record-Route: in-dialog requests go on our flow anyway
  }
  return entries
    .reverse()
    .filter((e) => !(e.uri.host === self.host && (e.uri.port ?? 5060) === self.port))
    .map((e) => `<${e.uriText}>`);
}

function contactOf(res: SipResponse): string | undefined {
  try {
    const c = getContact(res);
    return c !== undefined && !c.star ? c.contacts[0]?.uriText : undefined;
  } catch {
    return undefined; // an unparsable Contact: the INVITE's Request-URI serves as target
  }
}

function sourceOf(flow: Flow): { address: string; port: number } | undefined {
  return flow.transport === 'udp' ? { address: flow.address, port: flow.port } : undefined;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function randomHex(bytes: number): string {
  return Buffer.from(cryptoRandom(bytes)).toString('hex');
}
