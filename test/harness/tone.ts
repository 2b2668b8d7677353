/** A participant's "voice" for tests: an 8 kHz tone published in real time, 20 ms frames. */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  TrackPublishOptions,
  TrackSource,
  type Room,
} from '@livekit/rtc-node';
import { generateTone } from '../../src/rtp/goertzel.js';

export interface TonePublisher {
  /** Stops the tone and closes its source. */
  stop(): Promise<void>;
  framesSent(): number;
}

/** Publishes a microphone track saying `freq` Hz until `stop()`. */
export async function publishTone(room: Room, freq: number, trackName = 'tone'): Promise<TonePublisher> {
  const source = new AudioSource(8000, 1, 100);
  const track = LocalAudioTrack.createAudioTrack(trackName, source);
  await room.localParticipant!.publishTrack(
    track,
    new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  );
  let running = true;
  let sent = 0;
  const loop = (async () => {
    for (let n = 0; running; n += 160) {
      await source.captureFrame(new AudioFrame(generateTone(freq, 8000, 160, 8000, n), 8000, 1, 160));
      sent += 1;
    }
    // the track first: a queued source's capture thread outlives a source closed under a live track
    await track.close(false);
    await source.close();
  })();
  return {
    framesSent: () => sent,
    async stop() {
      running = false;
      // captureFrame waits for a native callback that a closed room may never send
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([loop.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    },
  };
}
