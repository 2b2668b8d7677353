/**
 * `exotel-livekit-bridge/agentstream`: Exotel's AgentStream (WebSocket) protocol on its own:
 * the strict parser and builders of its events, the per-connection protocol
 * (`AgentStreamMedia`), the outbound audio queue (`StreamAudioOut`) and the connect Voice AI
 * API client (`connectStreamCall`). The endpoint itself (`createAgentStreamServer`) and
 * `placeAgentStreamCall` are in the main entry. Importing this loads no native code.
 *
 * @module exotel-livekit-bridge/agentstream
 */
export { connectStreamCall, EXOTEL_API_BASE_URLS } from '../agentstream/connect-api.js';
export type {
  ExotelApiSettings,
  ConnectStreamRequest,
  ConnectStreamOptions,
  ConnectStreamResult,
  ConnectStatusCallbackEvent,
} from '../agentstream/connect-api.js';
export { AgentStreamMedia } from '../agentstream/media.js';
export type {
  AgentStreamLimits,
  AgentStreamStats,
  AgentStreamEnd,
  AgentStreamMediaEvents,
  StreamInterruption,
  StreamSocket,
  StreamSocketData,
} from '../agentstream/media.js';
export { StreamAudioOut } from '../agentstream/outbound-audio.js';
export {
  parseExotelEvent,
  parseBotEvent,
  decodePcm,
  encodePcm,
  mediaMessage,
  markMessage,
  clearMessage,
  ExotelEventWriter,
  STREAM_SAMPLE_RATES,
} from '../agentstream/protocol.js';
export type {
  ExotelStreamEvent,
  BotStreamEvent,
  StreamStart,
  StreamSampleRate,
  StreamParseLimits,
} from '../agentstream/protocol.js';
export { CORRELATION_PARAM } from '../agentstream/leg.js';
export type {
  StreamAudioOutOptions,
  StreamAudioChunk,
  StreamAudioClearResult,
  StreamAudioOutStats,
} from '../agentstream/outbound-audio.js';
