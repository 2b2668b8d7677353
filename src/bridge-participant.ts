/**
 * The bridge's participant for one call: its token (identity `sip-phone-<E.164>`, kind SIP,
 * the `sip.*` attributes LiveKit SIP sets, the metadata) and the `PhoneParticipant` built on
 * it, with every room handler attached before connecting, so a track an agent published
 * earlier is not missed.
 */
import type { RpcInvocationData } from '@livekit/rtc-node';
import type { TimerClock } from './clock.js';
import type { LiveKitSettings } from './config.js';
import type { Logger } from './logger.js';
import type { PhoneParticipant, ParticipantPredicate, PhoneTrackTuning } from './livekit/participant.js';
import { loadRtc } from './livekit/rtc.js';
import { createBridgeToken } from './livekit/token.js';
import { resourceClosed, resourceOpened } from './resources.js';

/** Who the participant is and how it joins. */
export interface BridgeParticipantSpec {
  livekit: LiveKitSettings;
  roomName: string;
  identity: string;
  /** Participant name (default: the phone number). */
  name: string;
  phoneNumber: string;
  /** The `sip.*` attributes and the host's own, set in the token. */
  attributes: Record<string, string>;
  isAgent: ParticipantPredicate | undefined;
  directFfi: boolean | undefined;
  connectTimeoutMs: number | undefined;
  /** The phone track's rate (AgentStream: the stream's); default 8000. */
  sampleRate: number | undefined;
  /** The AudioSource queue (ms) when the bridge picks one; else `media`'s, else none (0). */
  queueSizeMs?: number;
  /** `runBridge({ livekitMedia })`; its queue applies where `queueSizeMs` is undefined. */
  media?: PhoneTrackTuning;
  log: Logger;
  clock: TimerClock;
  remoteHeaders: () => Record<string, string>;
  rpcMethods: Readonly<Record<string, (data: RpcInvocationData) => Promise<string>>>;
}

/**
 * Mints the token (unless the host gave one) and builds the participant, not yet connected.
 * The participant's module (and with it rtc-node's native binding) is loaded here, by the
 * first call, not when the package is imported.
 */
export async function createBridgeParticipant(s: BridgeParticipantSpec): Promise<PhoneParticipant> {
  await loadRtc(); // the RPC handlers use rtc-node's RpcError once joined (`rtcLoaded()`)
  const { PhoneParticipant } = await import('./livekit/participant.js');
  const { livekit } = s;
  const token =
    livekit.token ??
    (await createBridgeToken({
      apiKey: livekit.apiKey!,
      apiSecret: livekit.apiSecret!,
      roomName: s.roomName,
      identity: s.identity,
      name: s.name,
      metadata: JSON.stringify({ source: 'exotel_bridge', phone: s.phoneNumber }),
      attributes: s.attributes,
    }));
  const participant = new PhoneParticipant({
    url: livekit.url,
    token,
    isAgent: s.isAgent,
    directFfi: s.directFfi,
    connectTimeoutMs: s.connectTimeoutMs,
    ...(s.sampleRate !== undefined ? { sampleRate: s.sampleRate } : {}),
    ...queueAndPublish(s),
    logger: s.log,
    clock: s.clock,
    remoteHeaders: s.remoteHeaders,
    rpcMethods: s.rpcMethods,
  });
  return counted(participant);
}

/**
 * Joins the room and publishes the phone's track, marking each milestone. Resolves false
 * when `stop` fired meanwhile; rejects as `connect()`/`publishAudio()` do.
 */
export async function joinAndPublish(
  participant: PhoneParticipant,
  stop: AbortSignal,
  log: Logger,
  mark: (what: 'livekitConnected' | 'trackPublished') => void,
): Promise<boolean> {
  await participant.connect(stop);
  mark('livekitConnected');
  if (stop.aborted) return false;
  log.info('[BRIDGE] Connected. Publishing SIP audio track...');
  await participant.publishAudio();
  mark('trackPublished');
  return !stop.aborted;
}

function queueAndPublish(s: BridgeParticipantSpec): { queueSizeMs?: number; publish?: PhoneTrackTuning } {
  const queueSizeMs = s.queueSizeMs ?? s.media?.audioSourceQueueMs;
  return {
    ...(queueSizeMs !== undefined ? { queueSizeMs } : {}),
    ...(s.media !== undefined ? { publish: s.media } : {}),
  };
}

/** Counts the participant (`resourceCounts().participant`) until its `close()` has finished. */
function counted(p: PhoneParticipant): PhoneParticipant {
  resourceOpened('participant');
  const close = p.close.bind(p);
  let closed: Promise<void> | undefined;
  p.close = () => (closed ??= close().finally(() => resourceClosed('participant')));
  return p;
}
