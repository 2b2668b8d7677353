/**
 * `exotel-livekit-bridge/media`: the media layer on its own. G.711 (`G711Codec`), PCM
 * helpers, RTP/RTCP packets, the jitter buffer, RFC 4733 DTMF, tone tools, the RTP session
 * over UDP with its paced sender and statistics, and `RtpMediaBridge` (RTP ↔ 16-bit PCM).
 * Importing it loads no native code.
 *
 * @module exotel-livekit-bridge/media
 */
// --- media: codec and RTP (src/codec, src/rtp) ---
export {
  G711Codec,
  silenceByte,
  linearToMulaw,
  mulawToLinear,
  linearToAlaw,
  alawToLinear,
} from '../codec/g711.js';
export type { G711Law } from '../codec/g711.js';
export {
  Resampler,
  saturate16,
  int16ToFloat32,
  float32ToInt16,
  mixInt16,
  applyGainInt16,
  rmsInt16,
} from '../codec/pcm.js';
export type { ResamplerOptions } from '../codec/pcm.js';
export { uint16Add, uint16Diff, uint16Gt, uint32Add, uint32Diff, uint32Gt } from '../rtp/seq.js';
export {
  RTP_HEADER_LENGTH,
  RtcpPacketType,
  createRtpHeader,
  parseRtpHeader,
  parseRtpPacket,
  serializeRtpPacket,
  writeRtpHeader,
  isRtcpPacket,
  parseRtcpHeader,
  parseRtcpReport,
} from '../rtp/packet.js';
export type {
  RtpHeader,
  RtpPacket,
  RtpPacketInit,
  RtpHeaderFields,
  RtcpHeader,
  RtcpReport,
  RtcpReportBlock,
} from '../rtp/packet.js';
export { JitterBuffer, LossConcealer } from '../rtp/jitter.js';
export type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterPacket,
  JitterPushResult,
  JitterOutput,
  JitterAudio,
  JitterLoss,
  JitterIdle,
  JitterState,
  LossConcealerOptions,
} from '../rtp/jitter.js';
export {
  DtmfSender,
  DtmfReceiver,
  encodeTelephoneEvent,
  decodeTelephoneEvent,
  dtmfDigitToEvent,
  eventToDtmfDigit,
} from '../rtp/dtmf.js';
export type { TelephoneEvent, DtmfPacket, DtmfSenderOptions, DtmfReceiverOptions } from '../rtp/dtmf.js';
export {
  goertzelPower,
  toneDominates,
  dominantFrequency,
  generateTone,
  generateDtmfTone,
  DTMF_FREQUENCIES,
} from '../rtp/goertzel.js';
export type { SampleArray } from '../rtp/goertzel.js';

// media I/O: RTP session over UDP, paced sender, statistics, RtpMediaBridge
export { systemClock } from '../clock.js';
export type { Clock, TimerOptions } from '../clock.js';
export { bindRtpPorts, DEFAULT_RTP_PORT_RANGE } from '../rtp/port.js';
export type { RtpPortOptions, RtpPorts } from '../rtp/port.js';
export { RtpReceptionStats } from '../rtp/stats.js';
export type { RtpStats, SeqVerdict } from '../rtp/stats.js';
export { RtpSession, DEFAULT_MEDIA_TIMEOUT_MS, DEFAULT_NO_MEDIA_TIMEOUT_MS } from '../rtp/session.js';
export type {
  RtpSessionOptions,
  RtpSessionEvents,
  RtpSessionState,
  RtpRemote,
  RtpLocalAddress,
  RtpFirstPacketInfo,
  RtpAudioPacket,
  RtpDtmfEvent,
} from '../rtp/session.js';
export { PacedScheduler, PacingHistogram, RtpPacketizer, getSharedScheduler } from '../rtp/pacer.js';
export type {
  PacedSchedulerOptions,
  PacedSchedulerStats,
  PacerClient,
  PacerHandle,
  PacerTimers,
  PacingSummary,
  RtpPacketizerOptions,
  RtpPacketizerStats,
} from '../rtp/pacer.js';
export { RtpMediaBridge } from '../rtp/bridge.js';
export { MediaLatencyProbe, LatencyHistograms } from '../rtp/latency-probe.js';
export type {
  RtpMediaBridgeOptions,
  RtpMediaBridgeEvents,
  RtpMediaBridgeState,
  RtpMediaBridgeStats,
  RtpMediaStartOptions,
  BridgeAudioFrame,
} from '../rtp/bridge.js';

export { RingbackTone, INDIA_RINGBACK } from '../rtp/ringback.js';
export type { RingbackPattern } from '../rtp/ringback.js';
export { estimateMos } from '../rtp/quality.js';
export type { MosEstimate, MosInputs } from '../rtp/quality.js';
export type { RtcpRemoteReport } from '../rtp/rtcp-reporter.js';
export type { RtpDirection } from '../rtp/bridge.js';
