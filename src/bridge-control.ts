/**
 * Call control of an answered bridged call: cold transfer (REFER, then BYE once it
 * succeeded), hold and resume from our side, hold from the phone's side (a re-INVITE
 * with `sendonly`/`inactive`), a new remote address, DTMF on demand, SIP INFO DTMF, and
 * call quality. Each one is reflected into the room (attributes the agents can read) and
 * reachable through LiveKit RPC, so any participant (an agent, or a host process in
 * another place) controls the call without shared state of ours.
 */
import type { RemoteParticipant, RpcInvocationData } from '@livekit/rtc-node';
import { rtcLoaded } from './livekit/rtc.js';
import {
  CALL_CONTROL_ATTRIBUTE,
  PARTICIPANT_KIND,
  ROOM_EVENT,
  RPC_CLEAR_AUDIO,
  RPC_HOLD,
  RPC_SEND_DTMF,
  RPC_TRANSFER,
} from './livekit/wire.js';
import type { TimerClock } from './clock.js';
import { bestEffortAsync } from './best-effort.js';
import type { BridgeError } from './errors.js';
import { ClosedError, ConfigError, toBridgeError, UnsupportedError } from './errors.js';
import type { AgentStreamMedia, StreamInterruption } from './agentstream/media.js';
import type { Logger } from './logger.js';
import type { PhoneParticipant } from './livekit/participant.js';
import type { RtpMediaBridge, RtpMediaBridgeStats } from './rtp/bridge.js';
import { dtmfDigitToEvent } from './rtp/dtmf.js';
import type { NegotiatedSdp } from './sdp/negotiate.js';
import type { CallSession } from './sip/session.js';

export {
  CALL_CONTROL_ATTRIBUTE,
  RPC_CLEAR_AUDIO,
  RPC_HOLD,
  RPC_SEND_DTMF,
  RPC_TRANSFER,
} from './livekit/wire.js';

/**
 * Who may transfer, hold and send DTMF on the call by RPC (default): agents, and
 * participants whose token carries `exotel.callControl: "true"` (what `connectToCall`
 * mints). Anyone else in the room gets an RPC error: a transfer dials a number at the
 * account's cost.
 */
export const mayControlCall = (p: RemoteParticipant): boolean =>
  p.kind === PARTICIPANT_KIND.AGENT || p.attributes[CALL_CONTROL_ATTRIBUTE] === 'true';

/** Progress of a cold transfer (`transfer` event, `sip.transferStatus` attribute). */
export interface TransferInfo {
  /** `transferring` once the REFER is sent, then `transferred` (we hang up) or `failed` (the call goes on). */
  state: 'transferring' | 'transferred' | 'failed';
  /** Where the phone is being transferred, as given (E.164 or a `sip:`/`tel:` URI). */
  target: string;
  /** The sipfrag or final status that decided it. */
  status?: number;
  /** With `failed`: why (a `TransferError`, or the failure that stopped the transfer). */
  error?: BridgeError;
}

/** Who holds the call (`hold` event, `sip.hold` attribute: `phone`, `host` or absent). */
export interface HoldInfo {
  /** `true` when the call went on hold, `false` when it was taken off hold. */
  held: boolean;
  /** Who did it: the phone (its re-INVITE) or the host (`hold()`/`resume()` or the RPC). */
  by: 'phone' | 'host';
}

/** What the control needs from its `BridgeCall`. */
export interface ControlHost {
  readonly log: Logger;
  readonly clock: TimerClock;
  session(): CallSession | undefined;
  media(): RtpMediaBridge | undefined;
  /** AgentStream calls: the stream (no SIP dialog, no RTP); `undefined` for SIP calls. */
  stream(): AgentStreamMedia | undefined;
  /** Whether the call travels over AgentStream (known before the stream is). */
  readonly overStream: boolean;
  participant(): PhoneParticipant | undefined;
  emitTransfer(info: TransferInfo): void;
  emitHold(info: HoldInfo): void;
  emitDtmf(digit: string, from: 'phone' | 'room'): void;
  emitStats(stats: RtpMediaBridgeStats): void;
  /** Checks a LiveKit access token with our API secret; `undefined` when it is not valid (or we hold no secret). */
  readonly verifyToken?: (
    token: string,
  ) => Promise<{ sub?: string; room?: string; attributes?: Record<string, string> } | undefined>;
  /** Who may call the control RPCs (default {@link mayControlCall}). */
  readonly controlFrom?: (p: RemoteParticipant) => boolean;
  /** Ends the call after a successful transfer (BYE). */
  endTransferred(): void;
}

/** Call control of one bridged call (see the module comment). */
export class CallControl {
  private heldBy: 'phone' | 'host' | undefined;
  private transferring = false;

  constructor(private readonly host: ControlHost) {}

  /** The extra RPC methods of the bridge participant. */
  rpcMethods(): Record<string, (data: RpcInvocationData) => Promise<string>> {
    const allowed = async (data: RpcInvocationData, body: Record<string, unknown>): Promise<void> => {
      if (await this.mayControl(data.callerIdentity, body.token)) return;
      this.host.log.warn(
        { caller: data.callerIdentity, method: data.method },
        '[BRIDGE] Control RPC refused',
      );
      throw appError(`${data.callerIdentity} may not control this call`);
    };
    return {
      [RPC_TRANSFER]: async (data) => {
        const body = payload(data, ['to']);
        await allowed(data, body);
        const { to } = body;
        const result = await rpc(() => this.transfer(String(to)));
        return JSON.stringify(result);
      },
      [RPC_HOLD]: async (data) => {
        const body = payload(data, ['hold']);
        await allowed(data, body);
        const { hold } = body;
        await rpc(() => (hold === true ? this.hold() : this.resume()));
        return JSON.stringify({ held: this.heldBy !== undefined, by: this.heldBy ?? null });
      },
      [RPC_SEND_DTMF]: async (data) => {
        const body = payload(data, ['digits']);
        await allowed(data, body);
        const { digits } = body;
        await rpc(() => this.sendDtmf(String(digits)));
        return '{}';
      },
      [RPC_CLEAR_AUDIO]: async (data) => {
        const body = payload(data, []);
        await allowed(data, body);
        return JSON.stringify(this.clearAudio('rpc') ?? {});
      },
    };
  }

  /**
   * Whether the RPC caller may control the call: a `token` in the payload that our API
   * secret signed for this identity and room with `exotel.callControl: "true"` (what
   * `connectToCall` sends: no room lookup, no race), or else the caller as the room knows
   * it passing `controlFrom` (default: an agent, or that attribute).
   */
  private async mayControl(identity: string, token: unknown): Promise<boolean> {
    if (typeof token === 'string' && this.host.verifyToken !== undefined) {
      const claims = await this.host.verifyToken(token);
      if (claims !== undefined) {
        return (
          claims.sub === identity &&
          claims.room === this.host.participant()?.room.name &&
          claims.attributes?.[CALL_CONTROL_ATTRIBUTE] === 'true'
        );
      }
    }
    const caller = await this.callerOf(identity);
    return caller !== undefined && (this.host.controlFrom ?? mayControlCall)(caller);
  }

  /**
   * The RPC caller as our room knows it. The request comes over the data channel and the
   * caller's arrival over signalling, in no fixed order: a caller that joined a moment ago
   * may not be known yet (livekit-server announced a participant that publishes nothing only
   * seconds later in our tests), so wait for it a little (3 s at most).
   */
  private async callerOf(identity: string): Promise<RemoteParticipant | undefined> {
    const room = this.host.participant()?.room;
    if (room === undefined) return undefined;
    const known = room.remoteParticipants.get(identity);
    if (known !== undefined) return known;
    return new Promise((resolve) => {
      const done = (): void => {
        this.host.clock.clearTimeout(timer);
        room.off(ROOM_EVENT.ParticipantConnected, check);
        resolve(room.remoteParticipants.get(identity));
      };
      const check = (p: RemoteParticipant): void => {
        if (p.identity === identity) done();
      };
      const timer = this.host.clock.setTimeout(done, 3000);
      room.on(ROOM_EVENT.ParticipantConnected, check);
    });
  }

  /** Wires the answered dialog's events: hold from the phone, new addresses, INFO DTMF. */
  attach(session: CallSession): void {
    session.on('mediaUpdate', ({ negotiated }) => this.onMediaUpdate(negotiated));
    session.on('dtmf', ({ digit }) => this.phoneDtmf(digit));
  }

  /** Starts or updates media after an answer or a re-INVITE, with its direction. */
  private onMediaUpdate(neg: NegotiatedSdp): void {
    const media = this.host.media();
    if (media === undefined || media.state === 'closed') return;
    startMedia(media, neg);
    // `neg.direction` is our side's: recvonly or inactive while the phone holds us.
    media.setDirection(neg.direction);
    const held = neg.direction === 'recvonly' || neg.direction === 'inactive';
    if (held && this.heldBy === undefined) this.setHold('phone');
    else if (!held && this.heldBy === 'phone') this.setHold(undefined);
  }

  /** A digit from the phone (RFC 4733 or SIP INFO): the `dtmf` event, and `publishDtmf` into the room. */
  phoneDtmf(digit: string): void {
    this.host.emitDtmf(digit, 'phone');
    const code = dtmfDigitToEvent(digit);
    const p = this.host.participant();
    if (code !== undefined && p !== undefined) {
      void bestEffortAsync(
        this.host.log,
        '[BRIDGE] Publishing DTMF from the phone',
        p.publishDtmf(code, digit),
      );
    }
  }

  /** A digit published in the room: the `dtmf` event, and RFC 4733 to the phone once answered (not over AgentStream). */
  roomDtmf(digit: string): void {
    this.host.emitDtmf(digit, 'room');
    const media = this.host.media();
    if (this.host.session() === undefined || media === undefined) return;
    void bestEffortAsync(
      this.host.log,
      '[BRIDGE] Sending DTMF from the room to the phone',
      media.sendDtmf(digit),
    );
  }

  /**
   * Cold transfer (RFC 3515): REFER to `target` (E.164 or a `sip:`/`tel:` URI), then BYE
   * once the far end reports success. On failure the call goes on and this rejects with
   * `TransferError` (its `status` says why).
   */
  async transfer(target: string, opts: { signal?: AbortSignal } = {}): Promise<{ status: number }> {
    const session = this.live();
    if (this.transferring) throw new ConfigError(['a transfer is already in progress']);
    this.transferring = true;
    this.host.emitTransfer({ state: 'transferring', target });
    this.attr({ 'sip.transferStatus': 'transferring' });
    try {
      const result = await session.refer(target, opts.signal !== undefined ? { signal: opts.signal } : {});
      this.host.log.info(`[BRIDGE] Transfer to ${target} accepted (${result.status}): hanging up`);
      this.host.emitTransfer({ state: 'transferred', target, status: result.status });
      this.attr({ 'sip.transferStatus': 'transferred' });
      this.host.endTransferred();
      return { status: result.status };
    } catch (err) {
      const e = toBridgeError(err);
      const status = (e as { status?: number }).status;
      this.host.log.warn(
        { err: e.message, status },
        `[BRIDGE] Transfer to ${target} failed: the call goes on`,
      );
      this.host.emitTransfer({
        state: 'failed',
        target,
        error: e,
        ...(status !== undefined ? { status } : {}),
      });
      this.attr({ 'sip.transferStatus': 'failed' });
      throw e;
    } finally {
      this.transferring = false;
    }
  }

  /** Puts the phone on hold (re-INVITE `a=sendonly`): it stops hearing the room, and sends nothing we wait for. */
  async hold(): Promise<void> {
    const session = this.live();
    await session.hold();
    this.host.media()?.setDirection('sendonly');
    this.setHold('host');
  }

  /** Takes the phone off hold (re-INVITE `a=sendrecv`). */
  async resume(): Promise<void> {
    const session = this.live();
    await session.resume();
    this.host.media()?.setDirection('sendrecv');
    if (this.heldBy === 'host') this.setHold(undefined);
  }

  /** Whether the room's audio should reach the phone now (not while we hold it). */
  get forwardingToPhone(): boolean {
    return this.heldBy !== 'host';
  }

  /** Barge-in: drops the agent audio the phone has not heard yet (see {@link RPC_CLEAR_AUDIO}). */
  clearAudio(by: 'rpc' | 'host'): StreamInterruption | undefined {
    const stream = this.host.stream();
    if (stream !== undefined) return stream.clearAudio(by);
    this.host.media()?.clearAudio();
    return undefined;
  }

  /** RFC 4733 digits to the phone, in order; `w` is a 0.5 s pause. */
  sendDtmf(digits: string): Promise<void> {
    if (this.host.overStream) return Promise.reject(unsupported('sending DTMF'));
    const media = this.host.media();
    if (media === undefined || media.state !== 'started')
      return Promise.reject(new ClosedError('call (not answered)'));
    return media.sendDtmf(digits);
  }

  /** Quality figures into the room at the media's stats rate. */
  onStats(stats: RtpMediaBridgeStats): void {
    this.host.emitStats(stats);
    this.attr({
      'sip.quality.mos': stats.mos.toFixed(2),
      'sip.quality.lossPercent': (stats.intervalLossFraction * 100).toFixed(1),
      'sip.quality.jitterMs': stats.jitterMs.toFixed(1),
      ...(stats.rttMs !== undefined ? { 'sip.quality.rttMs': stats.rttMs.toFixed(0) } : {}),
    });
  }

  private live(): CallSession {
    if (this.host.overStream) throw unsupported('REFER and re-INVITE (transfer, hold)');
    const session = this.host.session();
    if (session === undefined || session.state !== 'active')
      throw new ClosedError('call (not answered or ending)');
    return session;
  }

  private setHold(by: 'phone' | 'host' | undefined): void {
    this.heldBy = by;
    this.host.log.info(`[BRIDGE] ${by === undefined ? 'Off hold' : `On hold (by the ${by})`}`);
    this.host.emitHold(by === undefined ? { held: false, by: 'host' } : { held: true, by });
    this.attr({ 'sip.hold': by ?? '' });
  }

  private attr(a: Record<string, string>): void {
    const p = this.host.participant();
    if (p?.isConnected === true)
      void bestEffortAsync(this.host.log, '[BRIDGE] Setting call-control attributes', p.setAttributes(a));
  }
}

/** Starts (or re-aims) the RTP stream at what an SDP negotiation agreed. */
export function startMedia(media: RtpMediaBridge, neg: NegotiatedSdp): void {
  media.start({
    remoteAddress: neg.remoteAddress,
    remotePort: neg.remotePort,
    codec: neg.codec,
    payloadType: neg.payloadType,
    telephoneEventPayloadType: neg.telephoneEventPayloadType,
  });
}

function unsupported(what: string): UnsupportedError {
  return new UnsupportedError(`${what}: not possible on an AgentStream call (no SIP dialog)`);
}

/** The payload of a control RPC: a JSON object with the named fields. */
function payload(data: RpcInvocationData, fields: readonly string[]): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data.payload);
  } catch {
    throw appError(`payload must be JSON with ${fields.join(', ')}`);
  }
  if (typeof v !== 'object' || v === null || fields.some((f) => !(f in v))) {
    throw appError(`payload must be JSON with ${fields.join(', ')}`);
  }
  return v as Record<string, unknown>;
}

/**
 * An application error for the RPC caller. RPC handlers run only once the participant has
 * joined, so rtc-node is loaded by then (its `RpcError` is what the SDK passes on as is).
 */
function appError(message: string, data?: string): Error {
  const { RpcError } = rtcLoaded();
  return new RpcError(RpcError.ErrorCode.APPLICATION_ERROR, message, data);
}

/** Runs a control action for an RPC caller: our typed errors become an RpcError with code and status. */
async function rpc<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = toBridgeError(err);
    const status = (e as { status?: number }).status;
    throw appError(e.message, JSON.stringify({ code: e.code, ...(status !== undefined ? { status } : {}) }));
  }
}
