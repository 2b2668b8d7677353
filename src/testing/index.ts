// `exotel-livekit-bridge/testing`: helpers for tests of code that uses the bridge.
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
