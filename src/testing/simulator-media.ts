/**
 * The simulator's media for one call: an RTP bridge answering the caller's SDP offer (or
 * making the offer when the INVITE had none), a
 * decoy socket when RTP must come from a port other than the advertised one, a recorder
 * of what the caller says (at most 60 s) and a player of what the far end says (a tone or
 * samples, looped, one 20 ms frame per tick against absolute deadlines on the injected
 * clock).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { bestEffort } from '../best-effort.js';
import type { Logger } from '../logger.js';
import { RtpMediaBridge } from '../rtp/bridge.js';
import { generateTone } from '../rtp/goertzel.js';
import type { RtpStats } from '../rtp/stats.js';
import { createSdpAnswer, createSdpOffer } from '../sdp/offer-answer.js';
import { negotiateSdp, type NegotiatedSdp } from '../sdp/negotiate.js';
import type { TimerClock, TimerHandle } from '../sip/timers.js';
import type { CallBehaviour } from './simulator-types.js';

const MAX_RECORD_SAMPLES = 8000 * 60;
const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
/** Behind by more than this many frames (a stalled event loop, a fake clock jump): resync. */
const MAX_CATCH_UP_FRAMES = 5;

/**
 * Our SDP for the call and, when the INVITE carried the offer, what it negotiated. An
 * INVITE without SDP (RFC 3264 delayed offer) gets our offer here and the caller's answer
 * in the ACK ({@link SimulatedMedia.acceptAnswer}); `negotiated` is then undefined.
 */
export interface SimulatedMediaAnswer {
  sdp: string;
  negotiated: NegotiatedSdp | undefined;
}

export class SimulatedMedia {
  /** Digits received (RFC 4733). */
  readonly dtmf: string[] = [];
  private readonly bridge: RtpMediaBridge;
  private decoy: UdpSocket | undefined;
  private readonly heardBuf = new Int16Array(MAX_RECORD_SAMPLES);
  private heardLen = 0;
  private playTimer: TimerHandle | undefined;
  private playPos = 0;
  private closed: Promise<void> | undefined;
  private pendingOffer: string | undefined;
  private playing: CallBehaviour['play'];

  constructor(
    private readonly mediaIp: string,
    private readonly behaviour: CallBehaviour,
    private readonly clock: TimerClock,
    private readonly log: Logger,
  ) {
    this.playing = behaviour.earlyPlay !== undefined ? behaviour.earlyPlay : behaviour.play;
    this.bridge = new RtpMediaBridge({
      bindIp: mediaIp,
      portRange: [30000, 40000],
      jitterTargetMs: 40,
      mediaTimeoutMs: 0,
      noMediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
      logger: log,
    });
  }

  /** The RTP bridge (read by bench/load/far-end.ts through SimulatedCall's `media`). */
  get rtpBridge(): RtpMediaBridge {
    return this.bridge;
  }

  /**
   * Opens the RTP socket, answers `offer` and starts sending and recording. An empty
   * `offer` (delayed offer) gets our offer instead; media starts with
   * {@link acceptAnswer}. `undefined` when the offer has nothing we accept (no common
   * codec, malformed SDP): the caller answers 488.
   */
  async answer(offer: string): Promise<SimulatedMediaAnswer | undefined> {
    const local = await this.bridge.open();
    let advertisedPort = local.port;
    if (this.behaviour.rtpFromOtherPort) advertisedPort = await this.openDecoy();
    const ours = { ip: local.ip, port: advertisedPort, codecs: this.behaviour.codecs };
    if (offer.trim() === '') {
      this.pendingOffer = createSdpOffer(ours);
      return { sdp: this.pendingOffer, negotiated: undefined };
    }
    let sdp: string;
    let negotiated: NegotiatedSdp;
    try {
      sdp = createSdpAnswer(offer, ours);
      negotiated = negotiateSdp(sdp, offer);
    } catch (err) {
      // Not a failure of the simulator: the offer is unacceptable, which 488 reports.
      this.refused(err);
      return undefined;
    }
    if (this.closed !== undefined) return undefined;
    this.startFlowing(negotiated);
    return { sdp, negotiated };
  }

  /** Whether our offer (delayed-offer INVITE) still waits for the caller's answer. */
  get awaitingAnswer(): boolean {
    return this.pendingOffer !== undefined;
  }

  /**
   * The caller's answer to our offer (the SDP of the ACK): negotiates and starts media.
   * `undefined` when it is unacceptable; then no media flows.
   */
  acceptAnswer(answer: string): NegotiatedSdp | undefined {
    const offer = this.pendingOffer;
    if (offer === undefined || this.closed !== undefined) return undefined;
    this.pendingOffer = undefined;
    let negotiated: NegotiatedSdp;
    try {
      negotiated = negotiateSdp(offer, answer);
    } catch (err) {
      // The caller's answer is unusable: the call stays up without media, as a trunk's would.
      this.refused(err);
      return undefined;
    }
    this.startFlowing(negotiated);
    return negotiated;
  }

  private refused(err: unknown): void {
    this.log.debug({ err: err instanceof Error ? err.message : String(err) }, '[SIP] simulator: SDP refused');
  }

  private startFlowing(negotiated: NegotiatedSdp): void {
    this.bridge.on('audio', ({ samples }) => {
      const n = Math.min(samples.length, MAX_RECORD_SAMPLES - this.heardLen);
      if (n > 0) {
        this.heardBuf.set(samples.subarray(0, n), this.heardLen);
        this.heardLen += n;
      }
    });
    this.bridge.on('dtmf', ({ digit }) => this.dtmf.push(digit));
    this.bridge.start({
      remoteAddress: negotiated.remoteAddress,
      remotePort: negotiated.remotePort,
      codec: negotiated.codec,
      payloadType: negotiated.payloadType,
      telephoneEventPayloadType: negotiated.telephoneEventPayloadType,
    });
    this.startPlaying();
  }

  /** Everything heard so far, decoded to 8 kHz PCM (at most 60 s). */
  heard(): Int16Array {
    return this.heardBuf.slice(0, this.heardLen);
  }

  /** RTP statistics of the simulator's side. */
  stats(): RtpStats {
    return this.bridge.stats();
  }

  /** Sends DTMF digits as RFC 4733 events. */
  sendDtmf(digits: string): Promise<void> {
    return this.bridge.sendDtmf(digits);
  }

  /** Stops playing and closes the sockets. Idempotent. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    if (this.playTimer !== undefined) this.clock.clearTimeout(this.playTimer);
    this.playTimer = undefined;
    const decoy = this.decoy;
    this.decoy = undefined;
    if (decoy !== undefined) bestEffort(this.log, 'simulator decoy socket close', () => decoy.close());
    this.closed = this.bridge.close();
    return this.closed;
  }

  private async openDecoy(): Promise<number> {
    const decoy = createSocket(this.mediaIp.includes(':') ? 'udp6' : 'udp4');
    this.decoy = decoy;
    decoy.on('error', (err) => bestEffort(this.log, 'simulator decoy socket', () => rethrow(err)));
    await new Promise<void>((resolve) => decoy.bind(0, this.mediaIp, () => resolve()));
    // The decoy is only advertised: what arrives on it is read and dropped on purpose.
    decoy.on('message', () => undefined);
    return decoy.address().port;
  }

  /** Switches what is played from now on (the 200 OK ends the early-media `earlyPlay`). */
  setPlay(play: CallBehaviour['play']): void {
    this.playing = play;
  }

  private startPlaying(): void {
    if (this.behaviour.play === null && this.behaviour.earlyPlay === undefined) return;
    const frame = new Int16Array(FRAME_SAMPLES);
    let deadline = this.clock.now();
    const tick = (): void => {
      this.playTimer = undefined;
      if (this.closed !== undefined) return;
      const play = this.playing;
      if (play === null) frame.fill(0);
      else if ('toneHz' in play) {
        frame.set(generateTone(play.toneHz, 8000, FRAME_SAMPLES, play.amplitude ?? 8000, this.playPos));
      } else {
        const n = Math.max(1, play.samples.length);
        for (let i = 0; i < FRAME_SAMPLES; i++) frame[i] = play.samples[(this.playPos + i) % n] ?? 0;
      }
      this.playPos += FRAME_SAMPLES;
      this.bridge.writeAudio(frame, 8000);
      const now = this.clock.now();
      deadline += FRAME_MS;
      if (now - deadline > MAX_CATCH_UP_FRAMES * FRAME_MS) deadline = now + FRAME_MS;
      this.playTimer = this.clock.setTimeout(tick, Math.max(0, deadline - now));
    };
    tick();
  }
}

function rethrow(err: unknown): never {
  throw err;
}
