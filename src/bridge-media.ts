/**
 * The phone's audio for `BridgeCall`, whichever way it travels: G.711 over RTP (SIP legs,
 * `RtpMediaBridge` on the configured media IP) or the AgentStream socket (16-bit PCM at
 * the stream's rate). Both report the same few things to the call.
 */
import type { ExotelSettings } from './config.js';
import type { BridgeError } from './errors.js';
import type { Logger } from './logger.js';
import type { TimerClock } from './clock.js';
import type { AgentStreamMedia, StreamInterruption } from './agentstream/media.js';
import type { RunBridgeOptions } from './bridge-options.js';
import { RtpMediaBridge, type RtpMediaBridgeStats } from './rtp/bridge.js';
import type { NegotiatedSdp } from './sdp/negotiate.js';
import { startMedia } from './bridge-control.js';
import { RingbackPlayer } from './bridge-audio.js';

/** What the phone's audio reports to the call. */
export interface PhoneAudioHandlers {
  /** 20 ms of the phone's audio at the call's rate. */
  audio(samples: Int16Array): void;
  /** The first packet (RTP) or `media` event (AgentStream). */
  firstMedia(): void;
  /** A digit the phone pressed (RFC 4733, or the stream's `dtmf` event). */
  dtmf(digit: string): void;
  /** No media (or no pong) for too long. */
  timeout(error: BridgeError): void;
}

/** The RTP media of a SIP leg, bound to the configured media IP (never the wildcard address by default). */
export function createRtpMedia(
  exotel: ExotelSettings,
  opts: RunBridgeOptions,
  log: Logger,
  clock: TimerClock,
  h: PhoneAudioHandlers & { stats(st: RtpMediaBridgeStats): void },
): RtpMediaBridge {
  const timeouts = opts.timeouts ?? {};
  const media = new RtpMediaBridge({
    bindIp: exotel.mediaBindIp,
    advertisedIp: exotel.mediaIp,
    portRange: exotel.rtpPortRange,
    jitterTargetMs: opts.jitterTargetMs,
    latencyProbe: opts.latencyProbe,
    mediaTimeoutMs: timeouts.mediaMs,
    noMediaTimeoutMs: timeouts.noMediaMs,
    statsLogIntervalMs: opts.statsLogIntervalMs,
    ...(opts.statsIntervalMs !== undefined ? { statsIntervalMs: opts.statsIntervalMs } : {}),
    logger: log,
    clock,
  });
  media.on('audio', (frame) => h.audio(frame.samples));
  media.on('firstPacket', () => h.firstMedia());
  media.on('dtmf', ({ digit }) => h.dtmf(digit));
  media.on('timeout', (err) => h.timeout(err));
  media.on('stats', (st) => h.stats(st));
  return media;
}

/** Wires an answered AgentStream to the call (its timeouts end the stream itself, reported by the leg). */
export function wireStream(
  stream: AgentStreamMedia,
  h: Omit<PhoneAudioHandlers, 'timeout'> & {
    interrupted(info: StreamInterruption): void;
    playback(info: { mark: string; heardMs: number; pendingMs: number }): void;
  },
): void {
  stream.on('audio', (samples) => h.audio(samples));
  stream.on('dtmf', ({ digit }) => h.dtmf(digit));
  stream.on('interrupted', (info) => h.interrupted(info));
  stream.on('playback', (info) => h.playback(info));
  if (stream.hasMedia) h.firstMedia();
  else stream.once('firstMedia', () => h.firstMedia());
}

/** Early media (inbound): the negotiated stream starts now, and a ringback tone plays until the answer. */
export function ringbackToPhone(
  media: RtpMediaBridge,
  early: NegotiatedSdp,
  clock: TimerClock,
  log: Logger,
): RingbackPlayer {
  startMedia(media, early);
  log.info('[BRIDGE] Early media: playing ringback until the answer');
  const player = new RingbackPlayer(clock, (frame) => media.writeAudio(frame, 8000));
  player.start();
  return player;
}
