/**
 * Helpers for the host backend's side of an outbound call: one room, one agent dispatch,
 * then the bridge into that room.
 */
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { PARTICIPANT_KIND } from './livekit/wire.js';
import { isBridgeParticipant } from './agent.js';
import { runBridge, type BridgeCall, type RunBridgeOptions } from './bridge.js';
import type { ParticipantPredicate } from './livekit/participant.js';
import { resolveConfig } from './config.js';
import { bestEffortAsync } from './best-effort.js';
import { ConfigError, LiveKitConnectError, LiveKitError } from './errors.js';
import { silentLogger } from './logger.js';
import { normalizePhoneNumber } from './sip/phone.js';
import { createOutboundRoomName } from './room-names.js';

/** Options of {@link placeOutboundCall}: the call's, except the room, which it creates. */
export interface PlaceOutboundCallOptions extends Omit<RunBridgeOptions, 'roomName'> {
  /** The agent type: names the room and is passed to the agent in the dispatch metadata. */
  agentType: string;
  /** The agent worker's registered name (`agentName` in LiveKit Agents). */
  agentName: string;
  /** Extra dispatch metadata (JSON-serialisable), merged with `{ phone, agentType }`. */
  dispatchMetadata?: Readonly<Record<string, unknown>>;
  /** Room empty timeout in seconds (default 60). */
  emptyTimeoutSec?: number;
  /** Delete the room when the call ends (default true: this helper created it). */
  deleteRoomOnEnd?: boolean;
}

/** What {@link placeOutboundCall} made: the room, the agent dispatch and the call. */
export interface PlacedCall {
  /** The room created for the call (see {@link createOutboundRoomName}). */
  roomName: string;
  /** The id of the agent dispatch created in that room. */
  dispatchId: string;
  /** The call, already dialling. */
  call: BridgeCall;
}

/**
 * A whole outbound call in one step: creates exactly one room and exactly one agent
 * dispatch, then runs the bridge into that same room (never a second one). The room is
 * deleted when the call ends unless `deleteRoomOnEnd` is false.
 *
 * Rejects with `ConfigError` without LiveKit API credentials or when the number or agent
 * type is invalid, and with `LiveKitConnectError`/`LiveKitError` when the room or the
 * dispatch cannot be created.
 */
export async function placeOutboundCall(options: PlaceOutboundCallOptions): Promise<PlacedCall> {
  const config = resolveConfig(
    { livekit: options.livekit, exotel: options.exotel },
    options.env ?? process.env,
  );
  const { url, apiKey, apiSecret } = config.livekit;
  if (!apiKey || !apiSecret) {
    throw new ConfigError([
      'placeOutboundCall needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET to create the room and dispatch',
    ]);
  }
  const phone = normalizePhoneNumber(options.phoneNumber, {
    defaultCountryCode: options.defaultCountryCode ?? '91',
  });
  const roomName = createOutboundRoomName(options.agentType, phone);
  const http = url.replace(/^ws(s?):\/\//, 'http$1://');
  const rooms = new RoomServiceClient(http, apiKey, apiSecret);
  const log = (options.logger ?? silentLogger).child({ room: roomName });
  const dispatches = new AgentDispatchClient(http, apiKey, apiSecret);
  try {
    await rooms.createRoom({ name: roomName, emptyTimeout: options.emptyTimeoutSec ?? 60 });
  } catch (err) {
    throw new LiveKitConnectError(`creating room ${roomName} failed: ${String(err)}`, { cause: err });
  }
  let dispatchId: string;
  try {
    const d = await dispatches.createDispatch(roomName, options.agentName, {
      metadata: JSON.stringify({ ...options.dispatchMetadata, phone, agentType: options.agentType }),
    });
    dispatchId = d.id;
  } catch (err) {
    await bestEffortAsync(
      log,
      '[BRIDGE] Deleting the room after a failed dispatch',
      rooms.deleteRoom(roomName),
    );
    throw new LiveKitError(`dispatching agent ${options.agentName} failed: ${String(err)}`, { cause: err });
  }
  const {
    agentName: _a,
    dispatchMetadata: _m,
    emptyTimeoutSec: _e,
    deleteRoomOnEnd,
    ...bridgeOptions
  } = options;
  const call = runBridge({ ...bridgeOptions, roomName, phoneNumber: phone });
  if (deleteRoomOnEnd !== false) {
    void call.ended.then(() =>
      bestEffortAsync(log, '[BRIDGE] Deleting the room after the call', rooms.deleteRoom(roomName)),
    );
  }
  return { roomName, dispatchId, call };
}

/**
 * Who a phone hears in a warm transfer: the agents and the other phone participants of
 * the room. Start the original call with `isAgent: hearsAgentsAndPhones` when a warm
 * transfer may follow; then the caller and the human still hear each other (and the call
 * is not ended as `agent-left`) once the agent has left.
 */
export const hearsAgentsAndPhones: ParticipantPredicate = (p) =>
  p.kind === PARTICIPANT_KIND.AGENT || isBridgeParticipant(p);

/** Options of {@link warmTransfer}. */
export interface WarmTransferOptions extends Omit<RunBridgeOptions, 'phoneNumber' | 'isAgent'> {
  /** The human to bring in (E.164, or national with `defaultCountryCode`). */
  to: string;
}

/**
 * Warm transfer: dials `to` into the same room as a second phone participant that hears
 * the agent and the caller. The agent briefs the human, then leaves the room; the caller
 * and the human go on talking. The original call must have been started with
 * `isAgent: hearsAgentsAndPhones`. Returns the second call (hang it up to abort).
 */
export function warmTransfer(options: WarmTransferOptions): BridgeCall {
  const { to, ...rest } = options;
  return runBridge({ ...rest, phoneNumber: to, isAgent: hearsAgentsAndPhones });
}
