/**
 * Outbound calls over AgentStream: Exotel's connect Voice AI API dials the phone and, once
 * it answers, opens a stream to our endpoint. The stream URL carries a one-off `lkcall`
 * parameter (also sent as `customfield`) so that the server hands that stream to this
 * call and to no other.
 */
import { randomBytes } from 'node:crypto';
import { BridgeCall } from '../bridge.js';
import type { RunBridgeOptions } from '../bridge-options.js';
import { assertRoomExists } from '../bridge-room.js';
import type { Env } from '../config.js';
import { ClosedError, ConfigError } from '../errors.js';
import { normalizePhoneNumber } from '../sip/phone.js';
import { connectStreamCall, type ConnectStreamRequest, type ExotelApiSettings } from './connect-api.js';
import { StreamLeg } from './leg.js';
import { STREAM_SAMPLE_RATES, type StreamSampleRate } from './protocol.js';
import { CORRELATION_PARAM, type AgentStreamServer } from './server.js';

/** Options of {@link placeAgentStreamCall}. */
export interface PlaceAgentStreamCallOptions
  extends
    Pick<
      RunBridgeOptions,
      'roomName' | 'agentType' | 'attributes' | 'participantName' | 'defaultCountryCode' | 'signal'
    >,
    Pick<
      ConnectStreamRequest,
      | 'record'
      | 'recordingChannels'
      | 'timeLimitSec'
      | 'customField'
      | 'statusCallback'
      | 'statusCallbackEvents'
    > {
  /** The endpoint the stream will reach (its LiveKit settings and call options are used). */
  server: AgentStreamServer;
  /** The number to call (E.164, or national with `defaultCountryCode`). */
  phoneNumber: string;
  /** Your Exophone, shown to the phone. */
  callerId: string;
  /**
   * The public `wss://` URL at which Exotel reaches `server` (credentials in it if the server
   * asks for Basic auth: `wss://KEY:TOKEN@bot.example.com/exotel/agentstream`).
   */
  streamUrl: string;
  /** 8000 (default), 16000 or 24000: added as `sample-rate` to the stream URL. */
  sampleRate?: StreamSampleRate;
  /** Exotel API account and credentials; missing fields come from `EXOTEL_ACCOUNT_SID`, `EXOTEL_API_KEY`, `EXOTEL_API_TOKEN`, `EXOTEL_API_BASE_URL`. */
  api?: Partial<ExotelApiSettings>;
  /** How long the phone may ring before the call ends as `no-answer` (default 60000 ms). */
  answerTimeoutMs?: number;
  /** Where missing LiveKit and Exotel API settings come from (default `process.env`). */
  env?: Env;
}

/**
 * Calls `phoneNumber` through Exotel's connect API and bridges its AgentStream into
 * `roomName` (which must exist, with its agent dispatched). Resolves with the call once
 * Exotel accepted the request (the phone is ringing; `sip.callID` is Exotel's call SID).
 * Rejects with `ConfigError` / `InvalidPhoneNumberError` before anything is sent, with
 * `ClosedError` when `server` is closing, with `RoomNotFoundError` when the room does not exist, and with `ExotelApiError` when Exotel
 * refuses (`status` says why). After that, the call reports through its events.
 */
export async function placeAgentStreamCall(o: PlaceAgentStreamCallOptions): Promise<BridgeCall> {
  const env = o.env ?? process.env;
  const phone = normalizePhoneNumber(o.phoneNumber, { defaultCountryCode: o.defaultCountryCode ?? '91' });
  const rate = o.sampleRate ?? 8000;
  const issues: string[] = [];
  if (!STREAM_SAMPLE_RATES.includes(rate)) issues.push('sampleRate must be 8000, 16000 or 24000');
  const api = apiSettings(o.api, env, issues);
  const token = randomBytes(12).toString('base64url');
  const streamUrl = withCorrelation(o.streamUrl, token, rate, issues);
  const wait = o.answerTimeoutMs ?? 60_000;
  if (!Number.isInteger(wait) || wait < 1000)
    issues.push('answerTimeoutMs must be an integer of at least 1000');
  if (issues.length > 0) throw new ConfigError(issues);

  const server = o.server;
  // a closed endpoint could not take the stream: the phone must not ring for nothing
  if (server.status !== 'open') throw new ClosedError('AgentStreamServer');
  const base = server.callOptions();
  if (base.requireExistingRoom !== false) await assertRoomExists(server.livekit, o.roomName);
  const waiter = server.expectStream(token, wait);
  let callSid: string;
  try {
    ({ callSid } = await connectStreamCall(
      api!,
      {
        to: phone,
        callerId: o.callerId,
        streamUrl,
        customField: o.customField ?? `${CORRELATION_PARAM}=${token}`,
        ...pick(o),
      },
      {
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
        ...(base.clock !== undefined ? { clock: base.clock } : {}),
        ...(base.logger !== undefined ? { logger: base.logger } : {}),
      },
    ));
  } catch (err) {
    waiter.cancel();
    throw err;
  }
  const leg = new StreamLeg({
    direction: 'outbound',
    sampleRate: rate,
    dialer: { dial: () => Promise.resolve({ callSid }), arrival: waiter.arrival, cancel: waiter.cancel },
  });
  const options: RunBridgeOptions = {
    ...base,
    roomName: o.roomName,
    phoneNumber: phone,
    requireExistingRoom: false, // checked above, before the phone was called
    ...(o.agentType !== undefined ? { agentType: o.agentType } : {}),
    ...(o.attributes !== undefined ? { attributes: o.attributes } : {}),
    ...(o.participantName !== undefined ? { participantName: o.participantName } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
  };
  const call = new BridgeCall({ livekit: server.livekit }, options, phone, leg, {
    trunkPhoneNumber: o.callerId,
    callId: callSid,
    hostname: new URL(api!.baseUrl ?? 'https://api.in.exotel.com').host,
    attributes: { 'exotel.transport': 'agentstream', 'exotel.sampleRate': String(rate) },
  });
  void call.run();
  return call;
}

function apiSettings(
  given: Partial<ExotelApiSettings> | undefined,
  env: Env,
  issues: string[],
): ExotelApiSettings | undefined {
  const accountSid = given?.accountSid ?? env.EXOTEL_ACCOUNT_SID;
  const apiKey = given?.apiKey ?? env.EXOTEL_API_KEY;
  const apiToken = given?.apiToken ?? env.EXOTEL_API_TOKEN;
  const baseUrl = given?.baseUrl ?? env.EXOTEL_API_BASE_URL;
  if (!accountSid) issues.push('api.accountSid (EXOTEL_ACCOUNT_SID) is missing');
  if (!apiKey) issues.push('api.apiKey (EXOTEL_API_KEY) is missing');
  if (!apiToken) issues.push('api.apiToken (EXOTEL_API_TOKEN) is missing');
  if (!accountSid || !apiKey || !apiToken) return undefined;
  return {
    accountSid,
    apiKey,
    apiToken,
    ...(baseUrl ? { baseUrl } : {}),
    ...(given?.timeoutMs !== undefined ? { timeoutMs: given.timeoutMs } : {}),
  };
}

/** The stream URL with our correlation token and the rate (Exotel allows three custom parameters). */
function withCorrelation(raw: string, token: string, rate: number, issues: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    issues.push('streamUrl is not a URL');
    return raw;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') issues.push('streamUrl must be ws:// or wss://');
  url.searchParams.delete(CORRELATION_PARAM);
  url.searchParams.delete('sample-rate');
  if ([...url.searchParams.keys()].length > 2)
    issues.push(
      `streamUrl has more than 2 custom parameters (Exotel allows 3, and ${CORRELATION_PARAM} is one)`,
    );
  url.searchParams.set(CORRELATION_PARAM, token);
  if (rate !== 8000) url.searchParams.set('sample-rate', String(rate));
  return url.toString();
}

function pick(o: PlaceAgentStreamCallOptions): Partial<ConnectStreamRequest> {
  const out: Partial<ConnectStreamRequest> = {};
  if (o.record !== undefined) out.record = o.record;
  if (o.recordingChannels !== undefined) out.recordingChannels = o.recordingChannels;
  if (o.timeLimitSec !== undefined) out.timeLimitSec = o.timeLimitSec;
  if (o.statusCallback !== undefined) out.statusCallback = o.statusCallback;
  if (o.statusCallbackEvents !== undefined) out.statusCallbackEvents = o.statusCallbackEvents;
  return out;
}
