/**
 * `runBridge()`'s options and their resolution: everything is resolved and validated here
 * (config with env fallbacks, the phone number, injected headers) before anything is opened.
 */
import {
  resolveConfig,
  type BridgeConfig,
  type Env,
  type ExotelSettings,
  type LiveKitSettings,
} from './config.js';
import type { TimerClock } from './clock.js';
import { ConfigError } from './errors.js';
import type { Logger } from './logger.js';
import type { ParticipantPredicate, PhoneTrackTuning } from './livekit/participant.js';
import type { MediaLatencyProbe } from './rtp/latency-probe.js';
import { assertHeaderName, assertSafeHeaderValue, normalizePhoneNumber } from './sip/phone.js';
import type { SipTimerValues } from './sip/timers.js';
import type { RingbackPattern } from './rtp/ringback.js';

/**
 * Options of {@link runBridge}: the room and the number, settings that override the
 * environment, and the call's timeouts, media and observability knobs.
 */
export interface RunBridgeOptions {
  /** The room the host already created (and dispatched its agent to). */
  roomName: string;
  /** The number to dial; normalised to E.164 (`defaultCountryCode` for national forms). */
  phoneNumber: string;
  /** The host's agent type (kept in the participant's metadata and logs). */
  agentType?: string;
  /** LiveKit settings; missing ones come from `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`. */
  livekit?: Partial<LiveKitSettings>;
  /** Exotel settings; missing ones come from the `EXOTEL_*` variables. */
  exotel?: Partial<ExotelSettings>;
  /** Environment to read (default `process.env`). */
  env?: Env;
  /** Country code for numbers typed without one (default `91`). */
  defaultCountryCode?: string;
  /** Whose audio goes to the phone (default: participants of kind AGENT). */
  isAgent?: ParticipantPredicate;
  /** Extra `X-` headers for the INVITE (validated against injection). */
  sipHeaders?: Readonly<Record<string, string>>;
  /**
   * The Exophone this call shows (From user). Default `exotel.callerId` / `EXOTEL_CALLER_ID`.
   * Calls with different caller IDs share one SIP listener and trunk connection.
   */
  callerId?: string;
  /** Domain of this call's From URI. Default `exotel.fromDomain` / `EXOTEL_FROM_DOMAIN`. */
  fromDomain?: string;
  /**
   * Copy the far end's headers into participant attributes `sip.h.<lower-cased name>`
   * (LiveKit SIP's `include_headers`): the 200 OK's outbound, the INVITE's inbound.
   * `x-headers`: only `X-` headers; `all`: every header. Default `none`.
   */
  includeHeaders?: 'none' | 'x-headers' | 'all';
  /**
   * Outbound: while the call rings without early media, play a ringback tone into the
   * room (like LiveKit's `playRingtone`), India's cadence unless a pattern is given. Default off.
   */
  ringbackTone?: boolean | RingbackPattern;
  /** G.711 codecs in our order of preference for this call (default `exotel.codecs`, else PCMA, PCMU). */
  codecs?: ('PCMA' | 'PCMU')[];
  /**
   * Who may transfer, hold and send DTMF by RPC (default: agents, and participants whose
   * token carries `exotel.callControl: "true"`, as `connectToCall` mints). `lk.sip.EndCall`
   * stays open to every participant, as in LiveKit SIP.
   */
  controlFrom?: ParticipantPredicate;
  /** DTMF digits sent right after the answer (IVR navigation, like LiveKit's `dtmf`): `'1234#w5'`, `w` a 0.5 s pause. */
  dtmf?: string;
  /** Emit `audio` events with both directions' PCM (recording, live transcription). Default off. */
  audioTaps?: boolean;
  /**
   * AgentStream calls: send `clear` by itself when the agent falls silent mid-speech while
   * the caller is speaking (the agent was interrupted). Default true.
   */
  autoClear?: boolean;
  /** Extra participant attributes (merged over the `sip.*` ones). */
  attributes?: Readonly<Record<string, string>>;
  /** Participant name (default: the phone number). */
  participantName?: string;
  /** Where the call logs, through a child bound to `{ callId, room, phone }` (default silent). */
  logger?: Logger;
  /** Aborting ends the call at any stage (CANCEL or BYE) and cleans up. */
  signal?: AbortSignal;
  /** How long each stage may take before the call gives up or ends; every field is optional. */
  timeouts?: {
    /** LiveKit connect (default 10 s). */
    connectMs?: number;
    /** No final answer (default 60 s): CANCEL, reason `no-answer`. */
    ringingMs?: number;
    /** Maximum call duration after the answer (default: none). */
    maxDurationMs?: number;
    /** No RTP after media flowed (default 15 s). */
    mediaMs?: number;
    /** No RTP at all after the answer (default 30 s). */
    noMediaMs?: number;
    /** How long a lost LiveKit connection may take to resume before the call is ended (default 10 s). */
    livekitReconnectMs?: number;
    /**
     * After the last agent left the room, end the call (BYE, reason `agent-left`) unless an
     * agent is back within this long (default 5 s; `Infinity` keeps the phone on the line).
     */
    agentGoneMs?: number;
  };
  /** RFC 3261 timer base values for the SIP client (T1 500, T2 4000, T4 5000 ms); tests shorten them. */
  sipTimers?: Partial<SipTimerValues>;
  /** Check that the room exists before joining (needs apiKey/apiSecret; default true). */
  requireExistingRoom?: boolean;
  /** Jitter-buffer target delay in ms (default 40). */
  jitterTargetMs?: number;
  /** Records the latency the media path adds each way (benchmarks; default none). */
  latencyProbe?: MediaLatencyProbe;
  /**
   * Per-frame audio to and from LiveKit through the bridge's own FFI path, which keeps
   * frames out of `@livekit/rtc-node`'s process-wide event broadcast (default true).
   * `false` uses rtc-node's `AudioSource.captureFrame()` and `AudioStream` instead: slower
   * with many calls per process, kept as an escape hatch.
   */
  directFfi?: boolean;
  /**
   * Advanced: the phone track's native audio source and publish options (queue, RED, DTX,
   * Opus bitrate). Each field's default and measured effect is in {@link PhoneTrackTuning}.
   */
  livekitMedia?: PhoneTrackTuning;
  /** Interval of the `[RTP] Audio flowing` log line (default 5000 ms). */
  statsLogIntervalMs?: number;
  /** Interval of the `stats` event and the `sip.quality.*` attributes (default 5000 ms; 0 = off). */
  statsIntervalMs?: number;
  /**
   * The clock of the call's timers and timings, of its media path and of its LiveKit
   * participant (default: the system clock; tests pass a `FakeTimerClock`). The shared SIP
   * client keeps its own clock.
   */
  clock?: TimerClock;
}

/** The options of one call, resolved and validated. */
export interface ResolvedBridgeOptions {
  config: BridgeConfig;
  /** The dialled number in E.164. */
  phoneNumber: string;
}

/**
 * Resolves the configuration and the number and refuses injected headers, throwing
 * `ConfigError` / `InvalidPhoneNumberError` / `InvalidHeaderError` before anything is opened
 * (the SIP client checks the headers again).
 */
export function resolveBridgeOptions(options: RunBridgeOptions): ResolvedBridgeOptions {
  const exotel: Partial<ExotelSettings> = {
    ...options.exotel,
    ...(options.callerId !== undefined ? { callerId: options.callerId } : {}),
    ...(options.fromDomain !== undefined ? { fromDomain: options.fromDomain } : {}),
    ...(options.codecs !== undefined ? { codecs: options.codecs } : {}),
  };
  const config = resolveConfig({ livekit: options.livekit, exotel }, options.env ?? process.env);
  const phoneNumber = normalizePhoneNumber(options.phoneNumber, {
    defaultCountryCode: options.defaultCountryCode ?? '91',
  });
  const queueMs = options.livekitMedia?.audioSourceQueueMs;
  if (queueMs !== undefined && (!Number.isInteger(queueMs) || queueMs < 0 || queueMs % 10 !== 0))
    throw new ConfigError([`livekitMedia.audioSourceQueueMs must be 0 or a multiple of 10 (got ${queueMs})`]);
  for (const [name, value] of Object.entries(options.sipHeaders ?? {})) {
    assertHeaderName(name);
    assertSafeHeaderValue(name, value);
  }
  return { config, phoneNumber };
}

/** `sip.h.<lower-cased name>` attributes of a message's headers (LiveKit SIP's `include_headers`). */
export function headerAttributes(
  headers: Readonly<Record<string, string>>,
  mode: 'none' | 'x-headers' | 'all' | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (mode === undefined || mode === 'none') return out;
  for (const [name, value] of Object.entries(headers)) {
    if (mode === 'x-headers' && !/^x-/i.test(name)) continue;
    out[`sip.h.${name.toLowerCase()}`] = value;
  }
  return out;
}
