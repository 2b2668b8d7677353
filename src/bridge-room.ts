/**
 * What the bridge asks of the room before it acts: that the room exists (the bridge never
 * creates one, so a call cannot land in a room its host did not make), and, for inbound
 * calls answered only once an agent is there, whether one arrives in time.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { clearTimer, type TimerClock, type TimerHandle } from './clock.js';
import type { BridgeEndReason } from './bridge-events.js';
import type { RunBridgeOptions } from './bridge-options.js';
import type { Logger } from './logger.js';
import type { LiveKitSettings } from './config.js';
import { LiveKitConnectError, RoomNotFoundError, type BridgeError } from './errors.js';
import type { PhoneParticipant } from './livekit/participant.js';
import { ROOM_EVENT } from './livekit/wire.js';
import { endReasonOfDisconnect } from './bridge-teardown.js';

/** `http(s)://` form of a LiveKit URL, for the server API. */
export function httpUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//, 'http$1://');
}

/** Throws `RoomNotFoundError` when the room does not exist, `LiveKitConnectError` when LiveKit cannot be asked. */
export async function assertRoomExists(livekit: LiveKitSettings, roomName: string): Promise<void> {
  if (!livekit.apiKey || !livekit.apiSecret) return; // a token-only caller cannot ask: join and see
  const rooms = await new RoomServiceClient(httpUrl(livekit.url), livekit.apiKey, livekit.apiSecret)
    .listRooms([roomName])
    .catch((err: unknown) => {
      throw new LiveKitConnectError(`cannot reach LiveKit at ${livekit.url}: ${String(err)}`, { cause: err });
    });
  if (!rooms.some((r) => r.name === roomName)) throw new RoomNotFoundError(roomName);
}

/** Whether an agent is in the room, or joins it, within `ms` (false at once when `signal` aborts). */
export function agentArrives(
  participant: PhoneParticipant,
  ms: number,
  clock: TimerClock,
  signal: AbortSignal,
): Promise<boolean> {
  if (participant.agentsPresent() > 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clock.clearTimeout(timer);
      participant.room.off(ROOM_EVENT.ParticipantConnected, check);
      signal.removeEventListener('abort', abort);
      resolve(ok);
    };
    const check = (): void => {
      if (participant.agentsPresent() > 0) done(true);
    };
    const abort = (): void => done(false);
    const timer = clock.setTimeout(() => done(false), ms);
    participant.room.on(ROOM_EVENT.ParticipantConnected, check);
    signal.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Ends the call when the room goes away in ways the SDK would wait out: a lost connection
 * that does not resume within `livekitReconnectMs` (the SDK retries silently for long; a
 * phone call cannot wait), or the last agent gone for `agentGoneMs`.
 */
export function watchRoom(
  participant: PhoneParticipant,
  clock: TimerClock,
  timeouts: NonNullable<RunBridgeOptions['timeouts']>,
  log: Logger,
  end: (reason: BridgeEndReason, error?: BridgeError) => void,
): { stop(): void } {
  let reconnect: TimerHandle | undefined;
  let agentGone: TimerHandle | undefined;
  participant.on('reconnecting', () => {
    log.warn('[BRIDGE] LiveKit connection lost; waiting for it to resume');
    clearTimer(clock, reconnect);
    reconnect = clock.setTimeout(
      () =>
        end(
          'livekit-disconnected',
          new LiveKitConnectError('the LiveKit connection was lost and did not resume in time'),
        ),
      timeouts.livekitReconnectMs ?? 10_000,
    );
  });
  participant.on('reconnected', () => {
    reconnect = clearTimer(clock, reconnect);
  });
  participant.on('participantDisconnected', ({ identity, agent }) => {
    const grace = timeouts.agentGoneMs ?? 5000;
    if (!agent || !Number.isFinite(grace) || participant.agentsPresent(identity) > 0) return;
    log.info(
      { agent: identity },
      `[BRIDGE] The last agent left; ending the call unless one returns within ${grace} ms`,
    );
    clearTimer(clock, agentGone);
    agentGone = clock.setTimeout(() => {
      agentGone = undefined;
      if (participant.agentsPresent() === 0) end('agent-left');
    }, grace);
  });
  return {
    stop() {
      reconnect = clearTimer(clock, reconnect);
      agentGone = clearTimer(clock, agentGone);
    },
  };
}

/** What a call does with the room's events (see `attachRoomHandlers`). */
export interface CallRoomHandlers {
  /** Ends the call (the first reason wins). */
  end(reason: BridgeEndReason): void;
  agentTrackSubscribed(identity: string): void;
  agentAudio(samples: Int16Array): void;
  /** DTMF published in the room (`publishDtmf`). */
  roomDtmf(digit: string): void;
}

/**
 * Attaches a call's room handlers to its participant, before it connects (so a track an
 * agent published earlier is not missed): an agent's `lk.sip.EndCall` and a disconnect that
 * was not our own close end the call.
 */
export function attachRoomHandlers(participant: PhoneParticipant, log: Logger, h: CallRoomHandlers): void {
  participant.on('endCallRequested', ({ identity }) => {
    log.info({ by: identity }, '[BRIDGE] Agent requested the end of the call');
    h.end('agent-hangup');
  });
  participant.on('disconnected', ({ reason, byClose }) => {
    if (!byClose) h.end(endReasonOfDisconnect(reason));
  });
  participant.on('agentTrackSubscribed', ({ identity }) => h.agentTrackSubscribed(identity));
  participant.on('agentAudio', h.agentAudio);
  participant.on('dtmf', ({ digit }) => h.roomDtmf(digit));
}
