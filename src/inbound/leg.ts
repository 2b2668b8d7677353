/**
 * The inbound SIP leg: the INVITE has arrived and is ringing; once the bridge has joined
 * the room (and, by option, an agent is there) it answers with our RTP address, picking
 * PCMA or PCMU from the caller's offer, and waits for the ACK.
 */
import type { BridgeLeg, LegAnswer, LegHooks } from '../bridge-leg.js';
import type { CallEnded } from '../sip/call-types.js';
import type { CallSession } from '../sip/session.js';
import { ClosedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import { createSdpAnswer, type SdpOfferOptions } from '../sdp/offer-answer.js';
import type { InboundCall } from '../sip/invite-server.js';

/** Answers one inbound call for a `BridgeCall`. */
export class InboundLeg implements BridgeLeg {
  readonly direction = 'inbound' as const;
  readonly answerAfterAgentMs: number | undefined;
  private readonly ringback: boolean;
  private readonly codecs: readonly ('PCMA' | 'PCMU')[] | undefined;
  private early: { answer: string; negotiated: NegotiatedSdp } | undefined;

  constructor(
    private readonly call: InboundCall,
    opts: { answerAfterAgentMs?: number; earlyMedia?: boolean; codecs?: readonly ('PCMA' | 'PCMU')[] } = {},
  ) {
    this.codecs = opts.codecs;
    this.answerAfterAgentMs = opts.answerAfterAgentMs;
    this.ringback = opts.earlyMedia === true;
  }

  earlyMedia(local: { ip: string; port: number }): NegotiatedSdp | undefined {
    if (!this.ringback || this.early !== undefined || this.call.state === 'ended') return undefined;
    const offer = this.call.offer;
    if (offer === undefined) return undefined;
    const answer = createSdpAnswer(offer, this.local(local));
    const negotiated = negotiateSdp(answer, offer);
    this.early = { answer, negotiated };
    this.call.ring(answer); // 183 Session Progress with our answer: media may flow now
    return negotiated;
  }

  /** Our side of the answer: with a codec preference, ours decides among what the caller offers. */
  private local(local: { ip: string; port: number }): SdpOfferOptions {
    return this.codecs !== undefined
      ? { ip: local.ip, port: local.port, codecs: this.codecs, codecPreference: 'ours' }
      : { ip: local.ip, port: local.port };
  }

  prepare(_log: Logger, hooks: LegHooks): Promise<void> {
    // The INVITE is here and ringing already; the caller may CANCEL at any time from now.
    const forward = (e: CallEnded): void =>
      hooks.onEnded(e, e.reason === 'cancelled' ? 'phone-hangup' : undefined);
    if (this.call.state === 'ended') void this.call.ended.then(forward);
    else this.call.once('ended', forward);
    return Promise.resolve();
  }

  async connect(local: { ip: string; port: number }, log: Logger): Promise<LegAnswer> {
    const call = this.call;
    if (call.state === 'ended') throw new ClosedError('inbound call (ended before the answer)');
    const offer = call.offer;
    if (offer === undefined) throw new ClosedError('inbound call without an SDP offer');
    // The 200 repeats the answer of the 183, when there was one (RFC 3264: one answer per offer).
    const answer = this.early?.answer ?? createSdpAnswer(offer, this.local(local));
    const negotiated = this.early?.negotiated ?? negotiateSdp(answer, offer);
    log.info(
      `[SIP] Answering with ${negotiated.codec}; caller RTP ${negotiated.remoteAddress}:${negotiated.remotePort}`,
    );
    await call.accept({ sdp: answer });
    return {
      negotiated,
      sipCallId: call.callId,
      remoteTag: call.remoteTag,
      remoteHeaders: call.remoteHeaders,
      allHeaders: call.headers,
    };
  }

  /** Refuses the call before the answer with `status` (480 when no agent came). */
  refuse(status: number): void {
    this.call.reject(status);
  }

  hangup(): Promise<void> {
    return this.call.hangup();
  }

  session(): CallSession | undefined {
    return this.call.dialogSession;
  }

  release(): void {
    // nothing held: the listener owns the trunk client
  }
}
