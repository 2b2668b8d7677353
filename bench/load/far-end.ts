/**
 * The far end of the load benchmark: the Exotel simulator (a real SIP/RTP server) plus
 * measurements of what reaches it, taken outside the system under test so that our
 * bridge and LiveKit SIP are measured the same way:
 *   - setup: INVITE arrival, 200 OK sent, first RTP packet received (wall clock);
 *   - per RTP packet from the system under test, during the window: sequence gaps (loss),
 *     RFC 3550 interarrival jitter, pacing error |inter-arrival − RTP timestamp step| and
 *     whether the payload carries audio (not one repeated byte, i.e. not digital silence).
 *
 * The simulator has no public hook for "200 OK sent" or for its media session, so this
 * wraps two of a SimulatedCall's private members (`sendFinal`, `media`) at run time; the
 * simulator's code is not changed.
 */
import { ExotelSimulator, type SimulatedCall } from '../../src/testing/index.js';
import { PacingHistogram, type RtpAudioPacket, type RtpMediaBridge } from '../../src/entries/media.js';
import { epochMs } from './ipc.js';
import {
  isConstant,
  newStreamTiming,
  observePacket,
  summarizeWindow,
  type RtpWindow,
  type StreamTiming,
} from './rtp-timing.js';

export interface FarCall {
  number: string;
  inviteEpoch: number;
  okEpoch?: number;
  firstRtpEpoch?: number;
  /** The far end's RTP port for this call (what the capture filters on). */
  rtpPort?: number;
  // window counters (timing.lost too)
  received: number;
  silent: number;
  timing: StreamTiming;
}

/** The far end's figures for one window (timed by its own receive clock). */
export type FarWindow = RtpWindow;

interface CallInternals {
  sendFinal(res: { status: number }): void;
  media: RtpMediaBridge | undefined;
}

export class FarEnd {
  readonly sim: ExotelSimulator;
  readonly byNumber = new Map<string, FarCall>();
  private readonly pacing = new PacingHistogram(200);
  private inWindow = false;

  constructor() {
    this.sim = new ExotelSimulator({
      host: '127.0.0.1',
      transports: ['tcp'],
      behaviour: { ringAfterMs: 50, answerAfterMs: 150, play: { toneHz: 440, amplitude: 8000 } },
    });
    this.sim.on('call', (c) => this.instrument(c));
  }

  async start(): Promise<number> {
    return (await this.sim.start()).port;
  }

  /** Forgets the calls of the previous step. */
  clear(): void {
    this.byNumber.clear();
  }

  windowStart(): void {
    this.pacing.reset();
    for (const c of this.byNumber.values()) {
      c.received = 0;
      c.silent = 0;
      c.timing = newStreamTiming();
    }
    this.inWindow = true;
  }

  /** RTP ports of the calls answered in this step. */
  rtpPorts(): Set<number> {
    const ports = new Set<number>();
    for (const c of this.byNumber.values()) if (c.rtpPort !== undefined) ports.add(c.rtpPort);
    return ports;
  }

  windowEnd(): FarWindow {
    this.inWindow = false;
    const answered = [...this.byNumber.values()].filter((c) => c.okEpoch !== undefined);
    return summarizeWindow(answered, this.pacing);
  }

  async close(): Promise<void> {
    await this.sim.close();
  }

  private instrument(call: SimulatedCall): void {
    const fc: FarCall = {
      number: call.to,
      inviteEpoch: epochMs(),
      received: 0,
      silent: 0,
      timing: newStreamTiming(),
    };
    this.byNumber.set(call.to, fc);
    const internals = call as unknown as CallInternals;
    const sendFinal = internals.sendFinal.bind(call);
    internals.sendFinal = (res) => {
      sendFinal(res);
      if (res.status !== 200 || fc.okEpoch !== undefined) return;
      fc.okEpoch = epochMs();
      fc.rtpPort = internals.media?.rtp.local.port;
      internals.media?.rtp.on('audio', (p) => this.onPacket(fc, p));
    };
  }

  private onPacket(fc: FarCall, p: RtpAudioPacket): void {
    const arrival = p.arrivalMs;
    if (fc.firstRtpEpoch === undefined) fc.firstRtpEpoch = performance.timeOrigin + arrival;
    const step = observePacket(fc.timing, p.sequenceNumber, p.timestamp, arrival, this.inWindow, this.pacing);
    if (step < 0 || !this.inWindow) return;
    fc.received++;
    if (isConstant(p.payload)) fc.silent++;
  }
}
