/**
 * How a bridged call ends: what ended it (the SIP and LiveKit reasons mapped to one
 * `BridgeEndReason`), what the `answered` promise rejects with when it never got answered,
 * and the bounded wait teardown uses for steps that may hang. `BridgeCall.doTeardown`
 * (in `bridge.ts`) runs the steps themselves, once, in reverse order of setup.
 */
import { DISCONNECT_REASON } from './livekit/wire.js';
import type { TimerClock, TimerHandle } from './clock.js';
import { AbortedError, CallRejectedError, type BridgeError } from './errors.js';
import type { CallEnded } from './sip/client.js';
import type { BridgeEndReason } from './bridge-events.js';

/** Longest wait for the LiveKit participant to close at the end of a call. */
export const PARTICIPANT_CLOSE_TIMEOUT_MS = 5000;

/** Longest wait for the final `sip.callStatus = hangup` attribute while still connected. */
export const HANGUP_STATUS_TIMEOUT_MS = 1000;

/** Why the call ended, as the bridge reports it, when the SIP call ended first. */
export function endReasonOfSip(e: CallEnded, answered: boolean): BridgeEndReason {
  switch (e.reason) {
    case 'remote-bye':
      return 'phone-hangup';
    case 'local-bye':
      return 'host-hangup';
    case 'rejected':
      return 'rejected';
    case 'cancelled':
      return 'aborted';
    case 'timeout':
      // The ringing timeout cancels the call; Timer B (no response at all) ends it as a 408.
      return e.status === 408 || answered ? 'sip-error' : 'no-answer';
    case 'transport-error':
      return 'sip-error';
    case 'max-duration':
      return 'max-duration';
    case 'auth-failed':
      return 'sip-error';
    case 'negotiation-failed':
      return 'error';
  }
}

/** Why the call ended when the LiveKit connection went away (not by our own close). */
export function endReasonOfDisconnect(reason: number | undefined): BridgeEndReason {
  return reason === DISCONNECT_REASON.PARTICIPANT_REMOVED
    ? 'participant-removed'
    : reason === DISCONNECT_REASON.ROOM_DELETED
      ? 'room-deleted'
      : 'livekit-disconnected';
}

/** What `answered` rejects with when the call ended before a 200 OK. */
export function unansweredError(info: {
  reason: BridgeEndReason;
  sipStatus?: number;
  error?: BridgeError;
}): BridgeError {
  return (
    info.error ??
    (info.reason === 'rejected' && info.sipStatus !== undefined
      ? new CallRejectedError(info.sipStatus, '')
      : new AbortedError(`call ended before it was answered: ${info.reason}`))
  );
}

/** Waits for `p` (its rejection ignored) at most `ms` on `clock`; true when it settled in time. */
export async function withTimeout(p: Promise<unknown>, ms: number, clock: TimerClock): Promise<boolean> {
  let timer: TimerHandle | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = clock.setTimeout(() => r(false), ms))),
  ]);
  if (timer !== undefined) clock.clearTimeout(timer);
  return settled;
}
