/**
 * An agent-side sketch without the Agents framework: joins a room as kind AGENT, waits
 * for the phone participant's audio to be ready (`sip.callStatus` = `active`, i.e.
 * answered and RTP flowing), then plays a short greeting tone and listens.
 *
 *   LIVEKIT_URL=… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… npx tsx examples/agent.ts <room>
 */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type RemoteParticipant,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { generateTone } from 'exotel-livekit-bridge/media';
import { isBridgeParticipant, waitForAudioReady } from 'exotel-livekit-bridge/agent';

async function main(): Promise<void> {
  const roomName = process.argv[2];
  const { LIVEKIT_URL: url, LIVEKIT_API_KEY: key, LIVEKIT_API_SECRET: secret } = process.env;
  if (!roomName || !url || !key || !secret)
    throw new Error('usage: LIVEKIT_* set; tsx examples/agent.ts <room>');
  const at = new AccessToken(key, secret, { identity: 'example-agent' });
  at.kind = 'agent';
  at.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });

  const room = new Room();
  const phone = new Promise<RemoteParticipant>((resolve) => {
    const check = (p: RemoteParticipant) => isBridgeParticipant(p) && resolve(p);
    room.on(RoomEvent.ParticipantConnected, check); // attached before connect
    room.once(RoomEvent.Connected, () => room.remoteParticipants.forEach(check));
  });
  await room.connect(url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
  const source = new AudioSource(8000, 1, 100);
  await room.localParticipant!.publishTrack(
    LocalAudioTrack.createAudioTrack('agent', source),
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );
  const p = await phone;
  console.log(`phone participant ${p.identity} joined; waiting for audio…`);
  await waitForAudioReady(p, { room, timeoutMs: 60_000 });
  console.log('audio ready: greeting');
  for (let i = 0; i < 50; i++) {
    await source.captureFrame(new AudioFrame(generateTone(660, 8000, 160, 6000, i * 160), 8000, 1, 160));
  }
  await source.waitForPlayout();
  await room.disconnect();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => void dispose());
