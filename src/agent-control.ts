/**
 * Controlling a bridged call from an agent in its room, through the RPC methods the bridge
 * participant answers: `transferCall(room.localParticipant, identity, '+91…')`, … The first
 * argument is anything with rtc-node's `performRpc` (a `LocalParticipant` of rtc-node 1.x, or
 * of the 0.13 line `@livekit/agents` uses): nothing here loads native code.
 */
import { BridgeError, TransferError } from './errors.js';
import {
  RPC_CLEAR_AUDIO,
  RPC_END_CALL,
  RPC_GET_REMOTE_HEADERS,
  RPC_HOLD,
  RPC_SEND_DTMF,
  RPC_TRANSFER,
} from './livekit/wire.js';

/** What the helpers need of a local participant: rtc-node's `performRpc`. */
export interface RpcCaller {
  /** Calls `method` on the participant `destinationIdentity` and resolves with its response payload. */
  performRpc(params: {
    destinationIdentity: string;
    method: string;
    payload: string;
    responseTimeout?: number;
  }): Promise<string>;
}

/** What a barge-in reports (see `BridgeCall`'s `interrupted` event); empty for SIP calls. */
export interface ClearAudioResult {
  /** Who asked: the agent's silence while the caller spoke (`auto`), an RPC, or the host. */
  by?: 'auto' | 'rpc' | 'host';
  /** Agent audio sent to Exotel so far, in ms. */
  sentMs?: number;
  /** Of that, what Exotel confirmed the caller heard, in ms. */
  heardMs?: number;
  /** Sent but not confirmed heard: at most what the `clear` dropped at Exotel, in ms. */
  unplayedMs?: number;
  /** Agent audio still queued in the bridge and dropped, in ms. */
  droppedQueuedMs?: number;
}

/** How long a control RPC may take (a transfer waits for the far end's NOTIFY). Default 40 s. */
const RPC_TIMEOUT_MS = 40_000;

/** An RPC error as rtc-node reports it (either line): a numeric code, a message, maybe data. */
function asRpcError(err: unknown): { code: number; message: string; data?: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  if (typeof e.code !== 'number' || typeof e.message !== 'string') return undefined;
  return { code: e.code, message: e.message, ...(typeof e.data === 'string' ? { data: e.data } : {}) };
}

async function call(
  lp: RpcCaller,
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
    const rpc = asRpcError(err);
    if (rpc === undefined) throw err;
    let data: { code?: string; status?: number } = {};
    try {
      data = JSON.parse(rpc.data ?? '{}') as typeof data;
    } catch {
      data = {}; // no structured data: the message says it all
    }
    if (data.code === 'TRANSFER_FAILED')
      throw new TransferError(rpc.message, data.status, '', { cause: err });
    throw new BridgeError('LIVEKIT', `${method} failed: ${rpc.message}`, { cause: err });
  }
}

/** The control token (`connectToCall`'s own access token) that proves the caller may control the call. */
function auth(token: string | undefined): { token?: string } {
  return token !== undefined ? { token } : {};
}

/**
 * Asks the bridge participant to transfer the call (REFER); resolves once the transfer
 * succeeded, rejects with `TransferError` when it did not.
 */
export async function transferCall(
  lp: RpcCaller,
  bridgeIdentity: string,
  target: string,
  token?: string,
): Promise<{
  /** The final status the far end reported for the transfer (a 2xx). */
  status: number;
}> {
  return JSON.parse(await call(lp, bridgeIdentity, RPC_TRANSFER, { to: target, ...auth(token) })) as {
    status: number;
  };
}

/** Puts the call on hold (`true`) or takes it off (`false`). */
export async function holdCall(
  lp: RpcCaller,
  bridgeIdentity: string,
  hold: boolean,
  token?: string,
): Promise<void> {
  await call(lp, bridgeIdentity, RPC_HOLD, { hold, ...auth(token) });
}

/** Sends DTMF digits to the phone (`w` = 0.5 s pause). */
export async function sendCallDtmf(
  lp: RpcCaller,
  bridgeIdentity: string,
  digits: string,
  token?: string,
): Promise<void> {
  await call(lp, bridgeIdentity, RPC_SEND_DTMF, { digits, ...auth(token) });
}

/**
 * Barge-in: the phone stops hearing the agent audio not yet played (AgentStream: a `clear`,
 * answered with what the caller heard; SIP: the RTP send queue is dropped).
 */
export async function clearCallAudio(
  lp: RpcCaller,
  bridgeIdentity: string,
  token?: string,
): Promise<ClearAudioResult> {
  return JSON.parse(await call(lp, bridgeIdentity, RPC_CLEAR_AUDIO, { ...auth(token) })) as ClearAudioResult;
}

/** Hangs up (LiveKit's `lk.sip.EndCall`). */
export async function endCall(lp: RpcCaller, bridgeIdentity: string): Promise<void> {
  await call(lp, bridgeIdentity, RPC_END_CALL, undefined);
}

/** The far end's `X-` headers (LiveKit's `lk.sip.GetRemoteHeaders`). */
export async function getCallHeaders(lp: RpcCaller, bridgeIdentity: string): Promise<Record<string, string>> {
  return JSON.parse(await call(lp, bridgeIdentity, RPC_GET_REMOTE_HEADERS, undefined)) as Record<
    string,
    string
  >;
}
