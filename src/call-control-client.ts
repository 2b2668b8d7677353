/**
 * Controlling a bridged call from anywhere, through LiveKit only: from an agent in the
 * room (`transferCall(room.localParticipant, identity, '+91…')`, …) or from a host
 * process that joins the room for a moment as a silent participant (`connectToCall`).
 * Nothing here needs the process that placed the call.
 */
import { Room, RoomEvent, RpcError, type LocalParticipant, type RemoteParticipant } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { isBridgeParticipant } from './agent.js';
import { systemTimerClock } from './clock.js';
import { CALL_CONTROL_ATTRIBUTE, RPC_HOLD, RPC_SEND_DTMF, RPC_TRANSFER } from './bridge-control.js';
import { resolveLiveKitSettings, type Env, type LiveKitSettings } from './config.js';
import { BridgeError, ConfigError, LiveKitConnectError, TransferError } from './errors.js';
import { RPC_END_CALL, RPC_GET_REMOTE_HEADERS } from './livekit/participant.js';

/** How long a control RPC may take (a transfer waits for the far end's NOTIFY). Default 40 s. */
const RPC_TIMEOUT_MS = 40_000;

async function call(
  lp: LocalParticipant,
  identity: string,
  method: string,
  payload: Record<string, unknown> | undefined,
  timeoutMs = RPC_TIMEOUT_MS,
): Promise<string> {
  try {
    return await lp.performRpc({
      destinationIdentity: identity,
      method,
      payload: payload === undefined ? '' : JSON.stringify(payload),
      responseTimeout: timeoutMs,
    });
  } catch (err) {
    if (err instanceof RpcError) {
      let data: { code?: string; status?: number } = {};
      try {
        data = JSON.parse(err.data ?? '{}') as typeof data;
      } catch {
        data = {}; // no structured data: the message says it all
      }
      if (data.code === 'TRANSFER_FAILED')
        throw new TransferError(err.message, data.status, '', { cause: err });
      throw new BridgeError('LIVEKIT', `${method} failed: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Asks the bridge participant to transfer the call (REFER); resolves once the transfer succeeded. */
export async function transferCall(
  lp: LocalParticipant,
  bridgeIdentity: string,
  target: string,
  token?: string,
): Promise<{ status: number }> {
  return JSON.parse(await call(lp, bridgeIdentity, RPC_TRANSFER, { to: target, ...auth(token) })) as {
    status: number;
  };
}

/** The control token (`connectToCall`'s own access token) that proves the caller may control the call. */
function auth(token: string | undefined): { token?: string } {
  return token !== undefined ? { token } : {};
}

/** Puts the call on hold (`true`) or takes it off (`false`). */
export async function holdCall(
  lp: LocalParticipant,
  bridgeIdentity: string,
  hold: boolean,
  token?: string,
): Promise<void> {
  await call(lp, bridgeIdentity, RPC_HOLD, { hold, ...auth(token) });
}

/** Sends DTMF digits to the phone (`w` = 0.5 s pause). */
export async function sendCallDtmf(
  lp: LocalParticipant,
  bridgeIdentity: string,
  digits: string,
  token?: string,
): Promise<void> {
  await call(lp, bridgeIdentity, RPC_SEND_DTMF, { digits, ...auth(token) });
}

/** Hangs up (LiveKit's `lk.sip.EndCall`). */
export async function endCall(lp: LocalParticipant, bridgeIdentity: string): Promise<void> {
  await call(lp, bridgeIdentity, RPC_END_CALL, undefined);
}

/** The far end's `X-` headers (LiveKit's `lk.sip.GetRemoteHeaders`). */
export async function getCallHeaders(
  lp: LocalParticipant,
  bridgeIdentity: string,
): Promise<Record<string, string>> {
  return JSON.parse(await call(lp, bridgeIdentity, RPC_GET_REMOTE_HEADERS, undefined)) as Record<
    string,
    string
  >;
}

/** A call controlled from a process that did not place it (see {@link connectToCall}). */
export interface RemoteCall {
  /** The bridge participant's identity (`sip-phone-<E.164>`). */
  readonly identity: string;
  /** Its `sip.*` attributes as last seen (`sip.callStatus`, `sip.hold`, `sip.transferStatus`…). */
  attributes(): Readonly<Record<string, string>>;
  transfer(target: string): Promise<{ status: number }>;
  hold(): Promise<void>;
  resume(): Promise<void>;
  sendDtmf(digits: string): Promise<void>;
  hangup(): Promise<void>;
  headers(): Promise<Record<string, string>>;
  /** Leaves the room. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link connectToCall}. */
export interface ConnectToCallOptions {
  roomName: string;
  /** The bridge participant to control (default: the room's bridge participant). */
  bridgeIdentity?: string;
  livekit?: Partial<LiveKitSettings>;
  env?: Env;
  /** Our identity in the room (default `call-control-<random>`); we publish no track and subscribe to nothing. */
  identity?: string;
  /** How long to wait for the bridge participant (default 10 s). */
  timeoutMs?: number;
}

/**
 * Joins the call's room as a participant that publishes no track and subscribes to
 * nothing (only RPC goes through it) and returns a handle that controls the call through the bridge's RPC
 * methods. Throws `ConfigError` without API key/secret, `LiveKitConnectError` when the
 * bridge participant is not there in time.
 */
export async function connectToCall(options: ConnectToCallOptions): Promise<RemoteCall> {
  const lk = resolveLiveKitSettings(options.livekit, options.env ?? process.env);
  if (!lk.apiKey || !lk.apiSecret)
    throw new ConfigError(['connectToCall needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET']);
  const identity = options.identity ?? `call-control-${Math.random().toString(36).slice(2, 10)}`;
  // The attribute lets us call the control RPCs (mayControlCall); only a token can set it.
  const at = new AccessToken(lk.apiKey, lk.apiSecret, {
    identity,
    ttl: 600,
    attributes: { [CALL_CONTROL_ATTRIBUTE]: 'true' },
  });
  // Not hidden: with `hidden`, RPC calls to the bridge timed out against livekit-server
  // v1.13.5 (its answer never came back; test/integration/bridge-control.test.ts). It publishes
  // no track and subscribes to nothing (autoSubscribe off), so agents can ignore it.
  at.addGrant({
    roomJoin: true,
    room: options.roomName,
    canSubscribe: true,
    canPublish: false,
    canPublishData: true,
  });
  const room = new Room();
  const jwt = await at.toJwt();
  await room.connect(lk.url, jwt, { autoSubscribe: false, dynacast: false });
  const find = (): RemoteParticipant | undefined =>
    [...room.remoteParticipants.values()].find((p) =>
      options.bridgeIdentity !== undefined ? p.identity === options.bridgeIdentity : isBridgeParticipant(p),
    );
  const bridge = find() ?? (await waitForBridge(room, find, options.timeoutMs ?? 10_000));
  if (bridge === undefined) {
    await room.disconnect();
    throw new LiveKitConnectError(`no bridge participant in room ${options.roomName}`);
  }
  const target = bridge;
  const lp = room.localParticipant!;
  let closed: Promise<void> | undefined;
  return {
    identity: target.identity,
    attributes: () => ({ ...target.attributes }),
    // Our own join token rides along: the bridge checks its signature, identity, room and
    // the call-control attribute without having to wait until it has seen us join.
    transfer: (to) => transferCall(lp, target.identity, to, jwt),
    hold: () => holdCall(lp, target.identity, true, jwt),
    resume: () => holdCall(lp, target.identity, false, jwt),
    sendDtmf: (digits) => sendCallDtmf(lp, target.identity, digits, jwt),
    hangup: () => endCall(lp, target.identity),
    headers: () => getCallHeaders(lp, target.identity),
    close: () => (closed ??= room.disconnect()),
  };
}

/** Waits for the bridge participant to join, at most `ms`. */
function waitForBridge(
  room: Room,
  find: () => RemoteParticipant | undefined,
  ms: number,
): Promise<RemoteParticipant | undefined> {
  return new Promise((resolve) => {
    const done = (p: RemoteParticipant | undefined): void => {
      systemTimerClock.clearTimeout(timer);
      room.off(RoomEvent.ParticipantConnected, check);
      resolve(p);
    };
    const check = (): void => {
      const p = find();
      if (p !== undefined) done(p);
    };
    const timer = systemTimerClock.setTimeout(() => done(undefined), ms);
    room.on(RoomEvent.ParticipantConnected, check);
  });
}
