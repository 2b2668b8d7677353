/**
 * What the bridge asks of the room before it acts: that the room exists (the bridge never
 * creates one, the seed's BUG-1), and, for inbound calls answered only once an agent is
 * there, whether one arrives in time.
 */
import { RoomEvent } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { TimerClock } from './clock.js';
import type { LiveKitSettings } from './config.js';
import { LiveKitConnectError, RoomNotFoundError } from './errors.js';
import type { PhoneParticipant } from './livekit/participant.js';

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
      participant.room.off(RoomEvent.ParticipantConnected, check);
      signal.removeEventListener('abort', abort);
      resolve(ok);
    };
    const check = (): void => {
      if (participant.agentsPresent() > 0) done(true);
    };
    const abort = (): void => done(false);
    const timer = clock.setTimeout(() => done(false), ms);
    participant.room.on(RoomEvent.ParticipantConnected, check);
    signal.addEventListener('abort', abort, { once: true });
  });
}
