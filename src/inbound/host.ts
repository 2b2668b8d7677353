/**
 * The host backend's side of inbound calls, mirroring `placeOutboundCall`: for every call
 * the listener offers, exactly one room (`<agentType>-inbound-<last 4 digits>-<uuid>`) and
 * exactly one agent dispatch are made, and the room is deleted when the call ends.
 */
import { randomUUID } from 'node:crypto';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { resolveLiveKitSettings, type Env, type LiveKitSettings } from '../config.js';
import { bestEffortAsync } from '../best-effort.js';
import { ConfigError, LiveKitConnectError, LiveKitError } from '../errors.js';
import { roomNameFor } from '../room-names.js';
import { silentLogger, type Logger } from '../logger.js';
import type { AcceptDecision, IncomingCall } from './types.js';

/** `<agentType>-inbound-<last 4 digits of the caller>-<uuid>` (`anon` for a withheld caller ID). */
export function createInboundRoomName(
  agentType: string,
  caller: string,
  uuid: string = randomUUID(),
): string {
  return roomNameFor(agentType, 'inbound', caller, uuid, true);
}

/** Who is calling: what `acceptInboundCalls` needs of a SIP call or an AgentStream. */
export interface InboundParty {
  /** The caller's number (E.164, or `anonymous`): names the room and goes to the agent. */
  from: string;
  /** The number the caller dialled (the Exophone): goes to the agent as `exophone`. */
  to: string;
}

/** Options of {@link acceptInboundCalls}. */
export interface AcceptInboundCallsOptions<C extends InboundParty = IncomingCall> {
  /** The agent worker's registered name (`agentName` in LiveKit Agents). */
  agentName: string;
  /** Names the room and goes to the agent in the dispatch metadata (default `inbound`). */
  agentType?: string;
  /** LiveKit settings; missing ones come from `LIVEKIT_*`. */
  livekit?: Partial<LiveKitSettings>;
  /** Where missing LiveKit settings come from (default `process.env`). */
  env?: Env;
  /** Where LiveKit failures are logged, per call through a child bound to `{ room, phone }` (default silent). */
  logger?: Logger;
  /** Extra dispatch metadata (JSON-serialisable), merged with `{ phone, exophone, agentType, direction }`. */
  dispatchMetadata?: Readonly<Record<string, unknown>>;
  /** Room empty timeout in seconds (default 60). */
  emptyTimeoutSec?: number;
  /** Pick the agent type per call (default: `agentType`). */
  agentTypeFor?: (call: C) => string;
}

/**
 * An `onCall` for `listenForCalls()` (or an `onStream` for `createAgentStreamServer()`) that
 * makes one room and one agent dispatch per call,
 * and deletes the room when the call ends. A LiveKit failure refuses the call with 503
 * (logged), which a SIP proxy in front treats as "try another process".
 */
export function acceptInboundCalls<C extends InboundParty = IncomingCall>(
  options: AcceptInboundCallsOptions<C>,
): (call: C) => Promise<
  | AcceptDecision
  | {
      /** 503 when the room or the dispatch could not be made. */
      reject: number;
    }
> {
  const { url, apiKey, apiSecret } = resolveLiveKitSettings(options.livekit, options.env ?? process.env);
  if (!apiKey || !apiSecret) {
    throw new ConfigError([
      'acceptInboundCalls needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET to create rooms and dispatches',
    ]);
  }
  const http = url.replace(/^ws(s?):\/\//, 'http$1://');
  const rooms = new RoomServiceClient(http, apiKey, apiSecret);
  const dispatches = new AgentDispatchClient(http, apiKey, apiSecret);
  const base = options.logger ?? silentLogger;
  return async (call) => {
    const agentType = options.agentTypeFor?.(call) ?? options.agentType ?? 'inbound';
    const roomName = createInboundRoomName(agentType, call.from);
    const log = base.child({ room: roomName, phone: call.from });
    try {
      await rooms.createRoom({ name: roomName, emptyTimeout: options.emptyTimeoutSec ?? 60 });
    } catch (err) {
      const e = new LiveKitConnectError(`creating room ${roomName} failed: ${String(err)}`, { cause: err });
      log.error({ err: e.message }, '[BRIDGE] Inbound call refused (503): no room');
      return { reject: 503 }; // a SIP proxy in front fails over to another process on 503
    }
    try {
      await dispatches.createDispatch(roomName, options.agentName, {
        metadata: JSON.stringify({
          ...options.dispatchMetadata,
          phone: call.from,
          exophone: call.to,
          agentType,
          direction: 'inbound',
        }),
      });
    } catch (err) {
      await bestEffortAsync(
        log,
        '[BRIDGE] Deleting the room after a failed dispatch',
        rooms.deleteRoom(roomName),
      );
      throw new LiveKitError(`dispatching agent ${options.agentName} failed: ${String(err)}`, { cause: err });
    }
    return {
      roomName,
      agentType,
      onEnded: () =>
        bestEffortAsync(log, '[BRIDGE] Deleting the room after the call', rooms.deleteRoom(roomName)).then(
          () => undefined,
        ),
    };
  };
}
