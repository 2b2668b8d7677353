/**
 * Audio the bridge makes itself: a ringback tone played on an absolute 20 ms schedule
 * into a sink (the phone's RTP before an inbound answer, or the room while an outbound
 * call rings without early media), until stopped.
 */
import { clearTimer, type TimerClock, type TimerHandle } from './clock.js';
import type { Logger } from './logger.js';
import type { PhoneParticipant } from './livekit/participant.js';
import { RingbackTone, type RingbackPattern } from './rtp/ringback.js';

/**
 * The `ringbackTone` option of an outbound call ringing without early media: a tone into
 * the room until the answer (8 kHz participants only: the tone is made at 8 kHz).
 */
export function ringbackIntoRoom(
  tone: boolean | RingbackPattern | undefined,
  clock: TimerClock,
  participant: PhoneParticipant,
  log: Logger,
): RingbackPlayer | undefined {
  if (tone === undefined || tone === false || participant.sampleRate !== 8000) return undefined;
  log.info('[BRIDGE] Ringing: playing ringback into the room');
  const player = new RingbackPlayer(
    clock,
    (frame) => participant.captureAudio(frame),
    tone === true ? undefined : tone,
  );
  player.start();
  return player;
}

/** Plays a ringback pattern into `sink`, 160 samples at 8 kHz every 20 ms. */
export class RingbackPlayer {
  private timer: TimerHandle | undefined;
  private playing = false;

  constructor(
    private readonly clock: TimerClock,
    private readonly sink: (samples: Int16Array) => void,
    private readonly pattern?: RingbackPattern,
  ) {}

  /** Whether it is playing. */
  get active(): boolean {
    return this.playing;
  }

  /** Starts playing (no-op when playing). */
  start(): void {
    if (this.playing) return;
    this.playing = true;
    const tone = new RingbackTone(this.pattern);
    const t0 = this.clock.now();
    let sent = 0;
    const tick = (): void => {
      // Every frame due by now, then sleep to the next deadline (no drift from late wake-ups).
      const due = Math.floor((this.clock.now() - t0) / 20) + 1;
      for (; sent < due && this.playing; sent++) this.sink(tone.next());
      if (this.playing) this.timer = this.clock.setTimeout(tick, t0 + sent * 20 - this.clock.now());
    };
    tick();
  }

  /** Stops playing. Idempotent. */
  stop(): void {
    this.playing = false;
    this.timer = clearTimer(this.clock, this.timer);
  }
}
