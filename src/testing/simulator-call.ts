/**
 * `SimulatedCall`: one INVITE the simulator accepted, as a UAS would handle it: 100,
 * 180 or 183 with SDP, 200 (retransmitted over UDP until the ACK) or a rejection, CANCEL
 * → 487, BYE either way. Every timer runs on the simulator's injected clock.
 */
import { bestEffortAsync } from '../best-effort.js';
import type { Logger } from '../logger.js';
import type { RtpMediaBridge } from '../rtp/bridge.js';
import type { RtpStats } from '../rtp/stats.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import { createSdpAnswer } from '../sdp/offer-answer.js';
import { withSessionVersion } from '../sdp/text.js';
import type { SdpDirection } from '../sdp/model.js';
import { hasTag } from '../sip/builders.js';
import { getCallId, getContact, getCSeq, getFrom, getVias } from '../sip/headers.js';
import { newBranch, newTag } from '../sip/ids.js';
import { createRequest, type SipRequest, type SipResponse } from '../sip/message.js';
import { DEFAULT_SIP_TIMERS, TimerSet, type TimerHandle } from '../sip/timers.js';
import { SimulatedMedia, type SimulatedMediaAnswer } from './simulator-media.js';
import type { CallBehaviour, Flow, SimulatorHost, SimulatorResponseParts } from './simulator-types.js';

/**
 * Where a {@link SimulatedCall} is: `proceeding` (ringing, or in early media) →
 * `answered` (200 sent) → `confirmed` (its ACK arrived) → `ended`.
 */
export type SimCallState = 'proceeding' | 'answered' | 'confirmed' | 'ended';
/**
 * Who ended a {@link SimulatedCall}: the `caller` (its BYE), the `simulator` (our BYE, a
 * rejection, a failed answer or `hangup()`), or a `cancel` from the caller before the answer.
 */
export type EndedBy = 'caller' | 'simulator' | 'cancel';
type CallTimer = 'ring' | 'answer' | 'retransmit' | 'hangup' | 'dropRtp';

const { t1: T1, t2: T2 } = DEFAULT_SIP_TIMERS;
/** How long a BYE waits for its final response before the call counts as ended anyway. */
const BYE_WAIT_MS = 2000;

/** One call the simulator accepted. */
export class SimulatedCall {
  /** The call's SIP Call-ID. */
  readonly callId: string;
  /** The dialled number (E.164) from the Request-URI. */
  readonly to: string;
  /** The caller's From user (the Exophone). */
  readonly from: string;
  /** The INVITE's Request-URI, as written. */
  readonly requestUri: string;
  /** The INVITE as received. */
  readonly invite: SipRequest;
  /** The simulator's To tag in its responses. */
  readonly localTag = newTag();
  /** The direction of our answer to each re-INVITE, in order (`recvonly` or `inactive` while held). */
  readonly reinvites: {
    /** The direction our answer put the media in. */
    direction: SdpDirection;
  }[] = [];
  private revisions = 0;
  /** The media in effect, once answered (or in early media). */
  negotiated: NegotiatedSdp | undefined;
  /** Who ended the call, once ended. */
  endedBy: EndedBy | undefined;
  /** Resolves when the ACK for the 200 arrives. */
  readonly answered: Promise<void>;
  /** Resolves when the call has ended. */
  readonly ended: Promise<{
    /** Who ended the call. */
    by: EndedBy;
  }>;
  /** Where the call is now. */
  state: SimCallState = 'proceeding';

  private mediaSession: SimulatedMedia | undefined;
  private mediaAnswer: Promise<SimulatedMediaAnswer | undefined> | undefined;
  private readonly timers: TimerSet<CallTimer>;
  private lastResponse: SipResponse | undefined;
  private final: SipResponse | undefined;
  private cseq = 1;
  private byeDone: Promise<void> | undefined;
  private byeResolve: (() => void) | undefined;
  private resolveAnswered!: () => void;
  private resolveEnded!: (v: { by: EndedBy }) => void;
  private disposed: Promise<void> | undefined;

  /**
   * @internal Made by the simulator for an INVITE that got past its checks.
   *
   * @param behaviour How this call behaves (the options' behaviour with the defaults filled in).
   */
  constructor(
    private readonly sim: SimulatorHost,
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
    this.timers = new TimerSet<CallTimer>(sim.clock);
    this.answered = new Promise((r) => (this.resolveAnswered = r));
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  /** The INVITE's headers, for tests that check what reached the trunk. */
  get headers(): SipRequest['headers'] {
    return this.invite.headers;
  }

  /** Digits received (RFC 4733). */
  get dtmf(): string[] {
    return this.mediaSession?.dtmf ?? [];
  }

  /** Everything heard so far, decoded to 8 kHz PCM (at most 60 s). */
  heard(): Int16Array {
    return this.mediaSession?.heard() ?? new Int16Array(0);
  }

  /** RTP statistics of the simulator's side. */
  stats(): RtpStats | undefined {
    return this.mediaSession?.stats();
  }

  /** Sends DTMF digits as RFC 4733 events. */
  async sendDtmf(digits: string): Promise<void> {
    await this.mediaSession?.sendDtmf(digits);
  }

  /** Hangs up with BYE (after the answer) and waits for the 200. */
  hangup(): Promise<void> {
    if (this.state === 'proceeding' && this.final === undefined) {
      // Not answered yet: decline it.
      this.sendFinal(this.respond(480, { toTag: this.localTag }));
      this.finish('simulator');
      return Promise.resolve();
    }
    if (this.state === 'ended') return this.byeDone ?? Promise.resolve();
    this.byeDone ??= this.sendBye();
    return this.byeDone;
  }

  /**
   * @internal The RTP bridge of the call, once media started. bench/load/far-end.ts reads
   * it (and wraps `sendFinal`) to measure what reaches the far end; keep both names.
   */
  get media(): RtpMediaBridge | undefined {
    return this.mediaSession?.rtpBridge;
  }

  /** @internal */
  matchesInvite(req: SipRequest): boolean {
    try {
      return getVias(req)[0]?.branch === getVias(this.invite)[0]?.branch;
    } catch {
      // A request whose Via does not parse is not a retransmission of our INVITE.
      return false;
    }
  }

  /** @internal */
  begin(): void {
    const b = this.behaviour;
    if (b.trying) this.send(this.respond(100));
    this.timers.start('ring', b.ringAfterMs, () => this.ring());
    if (b.noAnswer === true || b.reject !== undefined) return;
    this.timers.start('answer', Math.max(b.answerAfterMs, b.ringAfterMs), () => {
      void bestEffortAsync(this.log, 'simulator answer', this.answer());
    });
  }

  private ring(): void {
    if (this.state !== 'proceeding') return;
    const b = this.behaviour;
    if (b.reject !== undefined) {
      const parts: SimulatorResponseParts = { toTag: this.localTag };
      const res = this.respond(b.reject.status, parts);
      if (b.reject.reason) res.reason = b.reject.reason;
      this.sendFinal(res);
      this.finish('simulator');
      return;
    }
    if (!b.earlyMedia) {
      this.send(this.respond(180, { toTag: this.localTag, headers: [this.contact()] }));
      return;
    }
    const early = this.startMedia().then((answer) => {
      if (this.state !== 'proceeding' || answer === undefined) return;
      // An offer may not go in an unreliable 1xx (RFC 3261 §13.2.1): a delayed-offer
      // INVITE gets its 183 without SDP, and our offer in the 200.
      const sdp = answer.negotiated !== undefined ? answer.sdp : undefined;
      this.send(this.respond(183, { toTag: this.localTag, headers: [this.contact()], sdp }));
    });
    void bestEffortAsync(this.log, 'simulator early media', early);
  }

  private async answer(): Promise<void> {
    if (this.state !== 'proceeding') return;
    const answer = await this.startMedia();
    if (this.state !== 'proceeding') return;
    if (answer === undefined) {
      this.sendFinal(this.respond(488, { toTag: this.localTag }));
      this.finish('simulator');
      return;
    }
    const extra = Object.entries(this.behaviour.answerHeaders ?? {});
    const res = this.respond(200, {
      toTag: this.localTag,
      headers: [this.contact(), ...extra],
      sdp: answer.sdp,
    });
    this.mediaSession?.setPlay(this.behaviour.play);
    if (this.sim.settings.recordRoute === true) {
      const { host, port } = this.sim.address;
      res.headers.prepend('Record-Route', `<sip:${host}:${port};transport=${this.flow.transport};lr>`);
    }
    this.state = 'answered';
    this.sendFinal(res);
  }

  private respond(status: number, parts?: SimulatorResponseParts): SipResponse {
    return this.sim.response(this.invite, status, this.flow, parts);
  }

  private contact(): [string, string] {
    const { host, port } = this.sim.address;
    return ['Contact', `<sip:${this.to}@${host}:${port};transport=${this.flow.transport}>`];
  }

  /** Opens media for the caller's offer once; resolves our answer (undefined: 488). */
  private startMedia(): Promise<SimulatedMediaAnswer | undefined> {
    if (this.mediaAnswer !== undefined) return this.mediaAnswer;
    const offer = new TextDecoder().decode(this.invite.body);
    const mediaIp = this.sim.settings.mediaIp ?? this.sim.address.host;
    const media = new SimulatedMedia(mediaIp, this.behaviour, this.sim.clock, this.log);
    this.mediaSession = media;
    this.mediaAnswer = media.answer(offer).then((answer) => {
      if (answer !== undefined) this.negotiated = answer.negotiated;
      return answer;
    });
    return this.mediaAnswer;
  }

  private stopMedia(): Promise<void> {
    return this.mediaSession?.close() ?? Promise.resolve();
  }

  /**
   * @internal A re-INVITE in the confirmed dialog (hold, resume, a new address): answered
   * 200 with our SDP, its direction mirrored (sendonly → recvonly, inactive → inactive),
   * each answer with the next session version. An offer we cannot answer gets 488.
   */
  async reinvite(req: SipRequest, flow: Flow): Promise<void> {
    const base = (await this.mediaAnswer)?.sdp;
    const offer = new TextDecoder().decode(req.body);
    let answer: string | undefined;
    let direction: SdpDirection | undefined;
    try {
      if (base !== undefined && offer !== '') {
        answer = withSessionVersion(createSdpAnswer(offer, base), ++this.revisions);
        direction = negotiateSdp(answer, offer, { allowHold: true }).direction;
      }
    } catch {
      answer = undefined; // an offer the simulator cannot answer: refused below, as a trunk would
    }
    if (answer === undefined || direction === undefined) {
      flow.send(this.respond(488, { toTag: this.localTag }));
      return;
    }
    this.reinvites.push({ direction });
    flow.send(
      this.sim.response(req, 200, flow, { toTag: this.localTag, headers: [this.contact()], sdp: answer }),
    );
  }

  /** @internal */
  retransmittedInvite(flow: Flow): void {
    this.flow = flow;
    if (this.lastResponse) flow.send(this.lastResponse);
  }

  /** @internal */
  onAck(ack: SipRequest): void {
    this.timers.stop('retransmit');
    if (this.state !== 'answered') return;
    this.state = 'confirmed';
    const media = this.mediaSession;
    if (media?.awaitingAnswer === true && ack.body.length > 0) {
      this.negotiated = media.acceptAnswer(new TextDecoder().decode(ack.body));
    }
    this.resolveAnswered();
    const b = this.behaviour;
    if (b.hangupAfterMs !== undefined) {
      this.timers.start('hangup', b.hangupAfterMs, () => {
        void bestEffortAsync(this.log, 'simulator hangup', this.hangup());
      });
    }
    if (b.dropRtpAfterMs !== undefined) {
      this.timers.start('dropRtp', b.dropRtpAfterMs, () => {
        void bestEffortAsync(this.log, 'simulator stop media', this.stopMedia());
      });
    }
  }

  /** @internal */
  onResponse(res: SipResponse): void {
    let method: string;
    try {
      method = getCSeq(res).method;
    } catch {
      // A response without a usable CSeq cannot be the answer to our BYE.
      return;
    }
    if (method === 'BYE' && res.status >= 200) this.byeResolve?.();
  }

  /** @internal */
  remoteEnded(by: 'caller'): void {
    this.finish(by);
  }

  /** @internal */
  cancelled(): void {
    if (this.state !== 'proceeding') return;
    this.sendFinal(this.respond(487, { toTag: this.localTag }));
    this.finish('cancel');
  }

  private async sendBye(): Promise<void> {
    const { host, port } = this.sim.address;
    let target = this.invite.uri;
    try {
      const c = getContact(this.invite);
      if (c && !c.star && c.contacts[0]) target = c.contacts[0].uriText;
    } catch {
      // An unparsable Contact: send the BYE to the INVITE's Request-URI instead.
    }
    const to = this.invite.headers.get('From') ?? '';
    const fromHeader = this.invite.headers.get('To') ?? '';
    this.cseq += 1;
    const bye = createRequest('BYE', target, [
      ['Via', `SIP/2.0/${this.flow.transport.toUpperCase()} ${host}:${port};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', hasTag(fromHeader) ? fromHeader : `${fromHeader};tag=${this.localTag}`],
      ['To', to],
      ['Call-ID', this.callId],
      ['CSeq', `${this.cseq} BYE`],
    ]);
    const done = new Promise<void>((r) => (this.byeResolve = r));
    this.flow.send(bye);
    this.finish('simulator');
    // Not in `timers`: finish() clears those, and this wait outlives it.
    const clock = this.sim.clock;
    let timer: TimerHandle | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = clock.setTimeout(r, BYE_WAIT_MS)))]);
    if (timer !== undefined) clock.clearTimeout(timer);
    this.byeResolve = undefined;
    this.sim.forget(this);
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
    const again = (): void => {
      if (this.final !== res || elapsed >= 64 * T1) return;
      this.flow.send(res);
      elapsed += interval;
      interval = Math.min(interval * 2, T2);
      this.timers.start('retransmit', interval, again);
    };
    this.timers.start('retransmit', interval, again);
  }

  private finish(by: EndedBy): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endedBy = by;
    void bestEffortAsync(this.log, 'simulator call teardown', this.dispose()).then(() =>
      this.resolveEnded({ by }),
    );
  }

  /** @internal releases timers and sockets. */
  dispose(): Promise<void> {
    this.timers.clearAll();
    // While our BYE waits for its 200 the call stays routable (sendBye forgets it after).
    this.disposed ??= this.stopMedia().then(() => {
      if (this.byeResolve === undefined) this.sim.forget(this);
    });
    return this.disposed;
  }
}
