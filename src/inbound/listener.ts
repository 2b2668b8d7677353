/**
 * `listenForCalls()`: people dial the Exophone and an agent answers in a LiveKit room.
 * Every admitted INVITE gets 100 Trying and 180 Ringing at once; the host's `onCall`
 * decides the room (or refuses); the bridge joins that room exactly as for an outbound
 * call and answers with PCMA or PCMU from the caller's offer once it has published (or
 * once an agent is there too). The listener serves the trunk through the same shared
 * SIP client as outbound calls (one port, one trunk connection), caps concurrent calls,
 * and drains for rolling restarts.
 */
import { EventEmitter } from 'eventemitter3';
import { BridgeCall } from '../bridge.js';
import { headerAttributes, type RunBridgeOptions } from '../bridge-options.js';
import { resolveConfig, type BridgeConfig } from '../config.js';
import { ClosedError, ConfigError, toBridgeError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { systemTimerClock } from '../clock.js';
import { negotiateSdp } from '../sdp/negotiate.js';
import { createSdpAnswer, createSdpOffer } from '../sdp/offer-answer.js';
import type { InboundCall } from '../sip/invite-server.js';
import { normalizePhoneNumber } from '../sip/phone.js';
import { acquireSipClient, type SipClientLease } from '../sip-client-pool.js';
import { InboundLeg } from './leg.js';
import { TakenCalls } from './taken-calls.js';
import type {
  AcceptDecision,
  CallDecision,
  CloseListenerOptions,
  IncomingCall,
  InboundListenerEvents,
  ListenForCallsOptions,
} from './types.js';

const DEFAULT_MAX_CALLS = 50;
const DEFAULT_AGENT_WAIT_MS = 15_000;
const DEFAULT_DRAIN_MS = 300_000;

/** Takes inbound calls on the trunk and bridges each into the room `onCall` names. */
export class InboundListener extends EventEmitter<InboundListenerEvents> {
  private readonly taken: TakenCalls;
  private pending = 0;
  private state: 'open' | 'draining' | 'closed' = 'open';
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  /** @internal use `listenForCalls()` */
  constructor(
    private readonly config: BridgeConfig,
    private readonly opts: ListenForCallsOptions,
    private readonly lease: SipClientLease,
  ) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.taken = new TakenCalls(this.log, 'an inbound call');
  }

  /** The SIP port calls arrive on. */
  get port(): number {
    return this.lease.client.localPort;
  }

  /** Calls ringing or answered now. */
  get activeCalls(): number {
    return this.pending + this.taken.size;
  }

  /** `open`, `draining` (503 to new INVITEs) or `closed`. */
  get status(): 'open' | 'draining' | 'closed' {
    return this.state;
  }

  private closed(): boolean {
    return this.state === 'closed';
  }

  /** @internal The user agent's handler for every admitted out-of-dialog INVITE. */
  readonly onInvite = (call: InboundCall): void => {
    void this.take(call);
  };

  private async take(call: InboundCall): Promise<void> {
    const o = this.opts;
    const from = callerE164(call.fromUser, o.defaultCountryCode ?? '91');
    const refuse = (status: number, why: string, headers: [string, string][] = []): void => {
      this.log.info({ from, status, why }, `[BRIDGE] Inbound call refused (${status}): ${why}`);
      call.reject(status, headers);
      this.emit('refused', { sipCallId: call.callId, from, status, why });
    };
    if (this.state !== 'open') {
      return refuse(503, 'draining', [['Retry-After', String(o.drainRetryAfterSec ?? 30)]]);
    }
    if (this.activeCalls >= (o.maxConcurrentCalls ?? DEFAULT_MAX_CALLS)) return refuse(486, 'too many calls');
    const offer = call.offer;
    if (offer === undefined || !acceptable(offer, this.config.exotel.codecs))
      return refuse(488, 'no usable SDP offer');
    call.ring();
    this.pending++;
    let decision: CallDecision;
    try {
      decision = await o.onCall(incomingOf(call, from));
    } catch (err) {
      this.pending--;
      this.taken.changed();
      this.log.error(
        { from, err: toBridgeError(err).message },
        '[BRIDGE] onCall threw: refusing the call (500)',
      );
      return refuse(500, 'onCall threw');
    }
    this.pending--;
    if ('reject' in decision) refuse(decision.reject, 'onCall refused it');
    else if (call.state === 'ended' || this.closed()) {
      // The caller hung up while the host decided (or we are closing): no bridge, but the
      // host's clean-up still runs.
      if (!this.closed()) this.log.info({ from }, '[BRIDGE] The caller hung up before the bridge joined');
      else refuse(503, 'closed');
      this.taken.ended(decision, { reason: 'cancelled-before-bridge' });
    } else this.bridge(call, from, decision);
    // a drain waiting for this decision looks again, now that the call is bridged or gone
    this.taken.changed();
  }

  private bridge(call: InboundCall, from: string, d: AcceptDecision): void {
    const o = this.opts;
    const attributes: Record<string, string> = { 'sip.callIDFull': call.callId };
    Object.assign(attributes, headerAttributes(call.headers, o.includeHeaders));
    const options: RunBridgeOptions = {
      roomName: d.roomName,
      phoneNumber: from,
      ...(d.agentType !== undefined ? { agentType: d.agentType } : {}),
      ...(d.attributes !== undefined ? { attributes: d.attributes } : {}),
      ...(d.participantName !== undefined ? { participantName: d.participantName } : {}),
      ...pick(o),
    };
    const leg = new InboundLeg(call, {
      ...(o.answerWhen === 'agent' ? { answerAfterAgentMs: o.agentWaitMs ?? DEFAULT_AGENT_WAIT_MS } : {}),
      earlyMedia: o.ringback === 'early-media',
      ...(this.config.exotel.codecs !== undefined ? { codecs: this.config.exotel.codecs } : {}),
    });
    const bridge = new BridgeCall(this.config, options, from, leg, {
      trunkPhoneNumber: call.toUser,
      attributes,
    });
    this.taken.add(bridge, d);
    this.log.info({ from, room: d.roomName }, `[BRIDGE] Inbound call from ${from} into room ${d.roomName}`);
    this.emit('call', bridge);
    void bridge.run();
  }

  /**
   * Stops taking calls. With `drain`, new INVITEs get 503 + Retry-After while active calls
   * finish (up to `drainTimeoutMs`, then they are hung up); without, calls are hung up at
   * once. Resolves once every call's `onEnded` (e.g. the room deletion of `acceptInboundCalls`)
   * has finished and the trunk client is given back (closed when no outbound call uses it). Idempotent.
   */
  close(options: CloseListenerOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'draining';
      if (options.drain === true && this.activeCalls > 0) {
        const clock = this.opts.clock ?? systemTimerClock;
        const limit = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
        this.log.info(
          { calls: this.activeCalls },
          `[BRIDGE] Draining: waiting up to ${limit} ms for active calls`,
        );
        await this.taken.drain(() => this.activeCalls > 0, limit, clock);
      }
      this.state = 'closed';
      await this.taken.close(); // hangs up the rest, waits for the hosts' onEnded (e.g. deleting rooms)
      if (this.lease.client.ua.onInvite === this.onInvite) this.lease.client.ua.onInvite = undefined;
      this.lease.release();
      this.log.info('[BRIDGE] Inbound listener closed');
    })();
    return this.closing;
  }
}

/**
 * Listens for calls to the Exophone on the trunk (see {@link InboundListener}). Resolves
 * once the SIP listener is up. Throws `ConfigError` for bad settings, or when another
 * listener already serves this trunk in this process.
 */
export async function listenForCalls(options: ListenForCallsOptions): Promise<InboundListener> {
  if (options.signal?.aborted) throw new ClosedError('inbound listener (aborted before it started)');
  const config = resolveConfig(
    { livekit: options.livekit, exotel: options.exotel },
    options.env ?? process.env,
    {
      caller: 'optional',
    },
  );
  const log = options.logger ?? silentLogger;
  const lease = await acquireSipClient(
    config.exotel,
    log,
    options.sipTimers !== undefined ? { timers: options.sipTimers } : {},
  );
  const ua = lease.client.ua;
  if (ua.onInvite !== undefined) {
    lease.release();
    throw new ConfigError(['another inbound listener already serves this trunk in this process']);
  }
  const listener = new InboundListener(config, options, lease);
  ua.trust(options.allowFrom ?? []);
  ua.setInboundAuth(options.auth);
  ua.onInvite = listener.onInvite;
  const signal = options.signal;
  if (signal !== undefined) {
    const onAbort = (): void => void listener.close();
    signal.addEventListener('abort', onAbort, { once: true });
  }
  log.info({ port: listener.port }, `[BRIDGE] Listening for inbound calls on port ${listener.port}`);
  return listener;
}

function callerE164(user: string, defaultCountryCode: string): string {
  try {
    return normalizePhoneNumber(user, { defaultCountryCode });
  } catch {
    return 'anonymous'; // a withheld or non-numeric caller ID: not a number to show
  }
}

function incomingOf(call: InboundCall, from: string): IncomingCall {
  const s = call.source;
  return {
    from,
    to: call.toUser,
    sipCallId: call.callId,
    headers: call.remoteHeaders,
    source: { address: s.remoteAddress, port: s.remotePort, transport: s.protocol },
  };
}

/** Whether we can answer this offer at all (a G.711 audio stream we can reach). */
function acceptable(offer: string, codecs: readonly ('PCMA' | 'PCMU')[] | undefined): boolean {
  try {
    const local = createSdpOffer({
      ip: '127.0.0.1',
      port: 10_000,
      ...(codecs !== undefined ? { codecs } : {}),
    });
    negotiateSdp(createSdpAnswer(offer, local), offer);
    return true;
  } catch {
    return false; // malformed or unanswerable: the caller gets 488
  }
}

function pick(o: ListenForCallsOptions): Partial<RunBridgeOptions> {
  const out: Partial<RunBridgeOptions> = {};
  if (o.livekit !== undefined) out.livekit = o.livekit;
  if (o.exotel !== undefined) out.exotel = o.exotel;
  if (o.env !== undefined) out.env = o.env;
  if (o.logger !== undefined) out.logger = o.logger;
  if (o.isAgent !== undefined) out.isAgent = o.isAgent;
  if (o.timeouts !== undefined) out.timeouts = o.timeouts;
  if (o.jitterTargetMs !== undefined) out.jitterTargetMs = o.jitterTargetMs;
  if (o.directFfi !== undefined) out.directFfi = o.directFfi;
  if (o.livekitMedia !== undefined) out.livekitMedia = o.livekitMedia;
  if (o.statsLogIntervalMs !== undefined) out.statsLogIntervalMs = o.statsLogIntervalMs;
  if (o.clock !== undefined) out.clock = o.clock;
  if (o.requireExistingRoom !== undefined) out.requireExistingRoom = o.requireExistingRoom;
  if (o.audioTaps !== undefined) out.audioTaps = o.audioTaps;
  return out;
}
