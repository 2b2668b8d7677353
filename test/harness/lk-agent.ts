/**
 * An agent-kind participant on any LiveKit server (the e2e helper's `startAgent` is bound
 * to the shared test server): it says a tone and records what the phone says, and notes
 * the room events it sees, so a test can follow an outage from the agent's side.
 */
import { AudioStream, Room, RoomEvent, TrackKind } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { isBridgeParticipant } from '../../src/entries/agent.js';
import type { Cleanups } from './e2e.js';
import { publishTone } from './tone.js';

export interface LiveKitTarget {
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface RecordingAgent {
  room: Room;
  /** 20 ms frames of the phone's audio, at most 3000 (60 s). */
  heard: Int16Array[];
  /** Room events seen, in order (`reconnecting`, `reconnected`, `disconnected`). */
  events: string[];
  leave(): Promise<void>;
}

export async function agentToken(lk: LiveKitTarget, room: string, identity: string): Promise<string> {
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity, ttl: '10m' });
  at.kind = 'agent';
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  return at.toJwt();
}

export async function startAgentOn(
  cleanups: Cleanups,
  lk: LiveKitTarget,
  roomName: string,
  freq = 1000,
  identity = 'agent',
): Promise<RecordingAgent> {
  const room = new Room();
  const heard: Int16Array[] = [];
  const events: string[] = [];
  room.on(RoomEvent.Reconnecting, () => void events.push('reconnecting'));
  room.on(RoomEvent.Reconnected, () => void events.push('reconnected'));
  room.on(RoomEvent.Disconnected, () => void events.push('disconnected'));
  room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
    if (track.kind !== TrackKind.KIND_AUDIO || !isBridgeParticipant(p)) return;
    events.push('subscribed');
    void (async () => {
      const stream = new AudioStream(track, { sampleRate: 8000, numChannels: 1, frameSizeMs: 20 });
      for await (const f of stream) {
        if (heard.length < 3000) heard.push(f.data.slice());
      }
    })().catch(() => undefined);
  });
  await room.connect(lk.url, await agentToken(lk, roomName, identity), {
    autoSubscribe: true,
    dynacast: false,
  });
  const tone = await publishTone(room, freq, 'agent-voice');
  let left = false;
  const leave = async (): Promise<void> => {
    if (left) return;
    left = true;
    await tone.stop();
    await room.disconnect();
  };
  cleanups.push(leave);
  return { room, heard, events, leave };
}
