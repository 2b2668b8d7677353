/**
 * Controlling a bridged call from a host process that did not place it: `connectToCall`
 * joins the call's room for a moment as a silent participant and drives the bridge's RPC
 * methods (the agent-side helpers in `agent-control.ts`). Loads rtc-node when called.
 */
import type { RemoteParticipant, Room } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { isBridgeParticipant } from './agent.js';
import {
  clearCallAudio,
  endCall,
  getCallHeaders,
  holdCall,
  sendCallDtmf,
  transferCall,
} from './agent-control.js';
import type { ClearAudioResult } from './agent-control.js';
import { systemTimerClock } from './clock.js';
import { resolveLiveKitSettings, type Env, type LiveKitSettings } from './config.js';
import { ConfigError, LiveKitConnectError } from './errors.js';
import { loadRtc } from './livekit/rtc.js';
import { resourceClosed, resourceOpened } from './resources.js';
import { CALL_CONTROL_ATTRIBUTE, ROOM_EVENT } from './livekit/wire.js';

/** A call controlled from a process that did not place it (see {@link connectToCall}). */
export interface RemoteCall {
  /** The bridge participant's identity (`sip-phone-<E.164>`). */
  readonly identity: string;
  /** Its `sip.*` attributes as last seen (`sip.callStatus`, `sip.hold`, `sip.transferStatus`…). */
  attributes(): Readonly<Record<string, string>>;
  /**
   * Cold transfer (REFER) of the phone to `target` (E.164 or a `sip:`/`tel:` URI): resolves
   * once it succeeded (the bridge then hangs up), rejects with `TransferError` when it did not.
   */
  transfer(target: string): Promise<{
    /** The final status the far end reported for the transfer (a 2xx). */
    status: number;
  }>;
  /** Puts the phone on hold: it no longer hears the room. */
  hold(): Promise<void>;
  /** Takes the phone off hold. */
  resume(): Promise<void>;
  /** Sends DTMF digits to the phone, in order (`w` = 0.5 s pause). */
  sendDtmf(digits: string): Promise<void>;
  /** Barge-in: drops the agent audio the phone has not heard yet. */
  clearAudio(): Promise<ClearAudioResult>;
  /** Hangs up the call (LiveKit's `lk.sip.EndCall`); the bridge participant then leaves. */
  hangup(): Promise<void>;
  /** The far end's `X-` headers (LiveKit's `lk.sip.GetRemoteHeaders`). */
  headers(): Promise<Record<string, string>>;
  /** Leaves the room. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link connectToCall}. */
export interface ConnectToCallOptions {
  /** The room the call is in. */
  roomName: string;
  /** The bridge participant to control (default: the room's bridge participant). */
  bridgeIdentity?: string;
  /** LiveKit settings (API key and secret needed); missing ones come from `LIVEKIT_*`. */
  livekit?: Partial<LiveKitSettings>;
  /** Where missing LiveKit settings come from (default `process.env`). */
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
  const { Room } = await loadRtc();
  const jwt = await at.toJwt();
  const room = new Room();
  // Counted as a participant (resourceCounts()) from here until its disconnect settled.
  resourceOpened('participant');
  let closed: Promise<void> | undefined;
  const leave = (): Promise<void> =>
    (closed ??= room.disconnect().finally(() => resourceClosed('participant')));
  let bridge: RemoteParticipant | undefined;
  try {
    await room.connect(lk.url, jwt, { autoSubscribe: false, dynacast: false });
    const find = (): RemoteParticipant | undefined =>
      [...room.remoteParticipants.values()].find((p) =>
        options.bridgeIdentity !== undefined ? p.identity === options.bridgeIdentity : isBridgeParticipant(p),
      );
    bridge = find() ?? (await waitForBridge(room, find, options.timeoutMs ?? 10_000));
  } catch (err) {
    await leave().catch(() => undefined);
    throw err;
  }
  if (bridge === undefined) {
    await leave();
    throw new LiveKitConnectError(`no bridge participant in room ${options.roomName}`);
  }
  const target = bridge;
  const lp = room.localParticipant!;
  return {
    identity: target.identity,
    attributes: () => ({ ...target.attributes }),
    // Our own join token rides along: the bridge checks its signature, identity, room and
    // the call-control attribute without having to wait until it has seen us join.
    transfer: (to) => transferCall(lp, target.identity, to, jwt),
    hold: () => holdCall(lp, target.identity, true, jwt),
    resume: () => holdCall(lp, target.identity, false, jwt),
    sendDtmf: (digits) => sendCallDtmf(lp, target.identity, digits, jwt),
    clearAudio: () => clearCallAudio(lp, target.identity, jwt),
    hangup: () => endCall(lp, target.identity),
    headers: () => getCallHeaders(lp, target.identity),
    close: leave,
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
      room.off(ROOM_EVENT.ParticipantConnected, check);
      resolve(p);
    };
    const check = (): void => {
      const p = find();
      if (p !== undefined) done(p);
    };
    const timer = systemTimerClock.setTimeout(() => done(undefined), ms);
    room.on(ROOM_EVENT.ParticipantConnected, check);
  });
}
