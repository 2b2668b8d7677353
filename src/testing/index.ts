/**
 * `exotel-livekit-bridge/testing`: helpers for tests of code that uses the bridge. A
 * simulated Exotel SIP trunk (`ExotelSimulator`) that rings, answers, rejects and places
 * calls over real sockets; Exotel's side of an AgentStream (`connectAgentStream`) and a
 * stand-in for its "connect Voice AI" call API (`AgentStreamExotel`); a fake timer clock;
 * and tone tools to check what a call hears.
 *
 * @module exotel-livekit-bridge/testing
 */
export { ExotelSimulator, SimulatedCall, SimulatedInboundCall } from './simulator.js';
export type {
  CallBehaviour,
  ExotelSimulatorOptions,
  ExotelSimulatorEvents,
  InboundCallAnswer,
  InboundCallEnded,
  InboundCallOptions,
  InboundCallState,
  InboundCallTarget,
  ReceivedRequest,
  SimulatorAddress,
  SimulatorTransport,
} from './simulator.js';
export { FakeTimerClock } from './fake-clock.js';
export { generateTone, goertzelPower, dominantFrequency, toneDominates } from '../rtp/goertzel.js';
export { connectAgentStream, probeUpgrade, SimulatedAgentStream } from './agentstream-client.js';
export type {
  AgentStreamClientOptions,
  AgentStreamEnd,
  AgentStreamPlay,
  AgentStreamState,
  SimulatedAgentStreamEvents,
} from './agentstream-client.js';
export { AgentStreamExotel } from './agentstream-exotel.js';
export type {
  AgentStreamExotelEvents,
  AgentStreamExotelOptions,
  ConnectApiRequest,
} from './agentstream-exotel.js';
export type { SimCallState, EndedBy } from './simulator-call.js';
export type { SimulatorHost, InboundSimulatorHost } from './simulator-types.js';
