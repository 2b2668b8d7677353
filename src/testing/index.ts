// `exotel-livekit-bridge/testing`: helpers for tests of code that uses the bridge.
export { ExotelSimulator, SimulatedCall } from './simulator.js';
export type {
  CallBehaviour,
  ExotelSimulatorOptions,
  ExotelSimulatorEvents,
  ReceivedRequest,
  SimulatorAddress,
  SimulatorTransport,
} from './simulator.js';
export { FakeTimerClock } from './fake-clock.js';
export { generateTone, goertzelPower, dominantFrequency, toneDominates } from '../rtp/goertzel.js';
