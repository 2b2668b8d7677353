/**
 * Helpers for agent code running in the same room as the bridge: recognise the bridge's
 * phone participant and wait for the moment its audio is flowing. Typed by shape, not by
 * rtc-node's classes: participants and rooms of rtc-node 1.x and of the 0.13 line that
 * `@livekit/agents` uses both fit, and nothing here loads native code.
 */
import { clearTimer, systemTimerClock, type TimerClock, type TimerHandle } from './clock.js';
import { AbortedError, BridgeError } from './errors.js';
import { PARTICIPANT_KIND, ROOM_EVENT } from './livekit/wire.js';

/** What the helpers read of a participant (an rtc-node `Participant` of either line fits). */
export interface ParticipantLike {
  /** The participant's identity (the bridge's is `sip-phone-<E.164>`). */
  readonly identity: string;
  /** `ParticipantKind` (3 is SIP, 4 is AGENT). */
  readonly kind?: number;
  /** The participant's metadata string (the bridge's is JSON, see {@link BridgeParticipantMetadata}). */
  readonly metadata?: string;
  /** The participant's attributes (the bridge's `sip.*` ones: `sip.callStatus`, `sip.callID`…). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** The room events `waitForAudioReady` listens to (an rtc-node `Room` of either line fits). */
export interface RoomLike {
  /** Adds a listener: a participant's attributes changed. */
  on(
    event: 'participantAttributesChanged',
    fn: (changed: Record<string, string>, p: ParticipantLike) => void,
  ): unknown;
  /** Adds a listener: a participant left the room. */
  on(event: 'participantDisconnected', fn: (p: ParticipantLike) => void): unknown;
  /** Removes a `participantAttributesChanged` listener added with `on`. */
  off(
    event: 'participantAttributesChanged',
    fn: (changed: Record<string, string>, p: ParticipantLike) => void,
  ): unknown;
  /** Removes a `participantDisconnected` listener added with `on`. */
  off(event: 'participantDisconnected', fn: (p: ParticipantLike) => void): unknown;
}

/** Metadata the bridge participant carries: `{"source":"exotel_bridge","phone":"+91…"}`. */
export interface BridgeParticipantMetadata {
  /** Always `exotel_bridge`: marks the participant as this bridge's. */
  source: 'exotel_bridge';
  /** The phone's number in E.164. */
  phone: string;
}

/** Prefix of the bridge's `sip.callID` attribute (LiveKit's own SIP uses `SCL_`). */
export const BRIDGE_CALL_ID_PREFIX = 'EXO_';

/** Parses the bridge participant's metadata, or `undefined` if it is not the bridge's. */
export function parseBridgeMetadata(metadata: string | undefined): BridgeParticipantMetadata | undefined {
  if (!metadata) return undefined;
  try {
    const v = JSON.parse(metadata) as unknown;
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (o.source === 'exotel_bridge' && typeof o.phone === 'string')
        return { source: 'exotel_bridge', phone: o.phone };
    }
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

/**
 * True for the participant `runBridge` created: kind SIP, and either our metadata or a
 * `sip.callID` with our prefix. LiveKit's own SIP participants are kind SIP too, so an
 * agent that treats both alike can simply check `participant.kind === ParticipantKind.SIP`.
 */
export function isBridgeParticipant(participant: ParticipantLike): boolean {
  if (participant.kind !== PARTICIPANT_KIND.SIP) return false;
  if (parseBridgeMetadata(participant.metadata) !== undefined) return true;
  return (participant.attributes['sip.callID'] ?? '').startsWith(BRIDGE_CALL_ID_PREFIX);
}

/** Options of {@link waitForAudioReady}. */
export interface WaitForAudioReadyOptions {
  /** The room the participant is in: waits on attribute events instead of polling. */
  room?: RoomLike;
  /** Aborting stops the wait (it rejects with `AbortedError`). */
  signal?: AbortSignal;
  /** Rejects with a `BridgeError` after this long (default: no limit). */
  timeoutMs?: number;
  /** The clock of the timeout and of the 50 ms polling without a `room` (default: the system clock). */
  clock?: TimerClock;
}

/** How often the attributes are read when no `room` gives change events. */
const POLL_MS = 50;

/**
 * Resolves once the participant's `sip.callStatus` is `active` — for the bridge that
 * means answered *and* the first RTP packet arrived (the moment to start a greeting).
 * Rejects if the status becomes `hangup`, on abort, or on timeout.
 */
export function waitForAudioReady(
  participant: ParticipantLike,
  opts: WaitForAudioReadyOptions = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const clock = opts.clock ?? systemTimerClock;
    let timer: TimerHandle | undefined;
    let poll: TimerHandle | undefined;
    const cleanup = () => {
      timer = clearTimer(clock, timer);
      poll = clearTimer(clock, poll);
      opts.room?.off(ROOM_EVENT.ParticipantAttributesChanged, onChange);
      opts.room?.off(ROOM_EVENT.ParticipantDisconnected, onGone);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const check = (): boolean => {
      const status = participant.attributes['sip.callStatus'];
      if (status === 'active') {
        cleanup();
        resolve();
        return true;
      }
      if (status === 'hangup') {
        cleanup();
        reject(new BridgeError('ABORTED', 'the call ended before audio was ready'));
        return true;
      }
      return false;
    };
    const onChange = (_changed: Record<string, string>, p: ParticipantLike) => {
      if (p.identity === participant.identity) check();
    };
    const onGone = (p: ParticipantLike) => {
      if (p.identity !== participant.identity) return;
      cleanup();
      reject(new BridgeError('ABORTED', 'the participant left before audio was ready'));
    };
    const onAbort = () => {
      cleanup();
      reject(new AbortedError('waitForAudioReady aborted', { cause: opts.signal?.reason }));
    };
    if (opts.signal?.aborted) return onAbort();
    if (check()) return;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      timer = clock.setTimeout(() => {
        cleanup();
        reject(new BridgeError('RTP_TIMEOUT', `audio not ready after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
    }
    if (opts.room) {
      opts.room.on(ROOM_EVENT.ParticipantAttributesChanged, onChange);
      opts.room.on(ROOM_EVENT.ParticipantDisconnected, onGone);
    } else {
      const onPoll = (): void => {
        poll = undefined;
        if (!check()) poll = clock.setTimeout(onPoll, POLL_MS);
      };
      poll = clock.setTimeout(onPoll, POLL_MS);
    }
  });
}
