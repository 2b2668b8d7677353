/**
 * The AgentStream side of a bridged call: the phone reaches the room over Exotel's
 * WebSocket stream instead of SIP and RTP. `BridgeCall` drives the room exactly as for a
 * SIP leg; this leg reports the answer and the end, and hands over the stream's audio.
 *
 * Inbound: Exotel opened the stream (`start` arrived) before the bridge existed; the call is
 * answered as soon as the bridge has joined the room. Outbound: `dial` asks Exotel's connect
 * API to call the phone (then `ringing`), and the answer is the stream arriving for this
 * call; the stream's absence within `answerTimeoutMs` ends the call as `no-answer`.
 */
import type { BridgeEndReason } from '../bridge-events.js';
import type { BridgeLeg, LegAnswer, LegHooks } from '../bridge-leg.js';
import { AbortedError, StreamProtocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AgentStreamEnd, AgentStreamMedia } from './media.js';
import type { StreamStart } from './protocol.js';

/** How the outbound leg places its call and learns of its stream. */
export interface StreamDialer {
  /** Asks Exotel to call the phone (the connect API); resolves with Exotel's call SID. */
  dial(log: Logger): Promise<{ callSid: string }>;
  /** Resolves with the stream Exotel opened for this call, or rejects (timeout, cancelled). */
  arrival: Promise<AgentStreamMedia>;
  /** Stops waiting: a stream arriving later is closed at once. */
  cancel(): void;
}

/** The custom parameter that ties an outbound call's stream to the call waiting for it. */
export const CORRELATION_PARAM = 'lkcall';

/** The `sip.*`-style extras of a stream call: how it travels, its stream, its custom parameters. */
export function streamAttributes(start: StreamStart): Record<string, string> {
  const out: Record<string, string> = {
    'exotel.transport': 'agentstream',
    'exotel.streamSid': start.streamSid,
    'exotel.sampleRate': String(start.sampleRate),
  };
  if (start.accountSid !== '') out['exotel.accountSid'] = start.accountSid;
  for (const [k, v] of Object.entries(start.customParameters))
    if (k !== CORRELATION_PARAM) out[`exotel.param.${k}`] = v;
  return out;
}

export class StreamLeg implements BridgeLeg {
  readonly direction: 'inbound' | 'outbound';
  readonly sampleRate: number;
  private media: AgentStreamMedia | undefined;
  private hooks: LegHooks | undefined;
  private over = false;

  constructor(
    o:
      | { direction: 'inbound'; media: AgentStreamMedia }
      | { direction: 'outbound'; sampleRate: number; dialer: StreamDialer },
  ) {
    this.direction = o.direction;
    if (o.direction === 'inbound') {
      this.media = o.media;
      this.sampleRate = o.media.sampleRate;
      this.dialer = undefined;
    } else {
      this.sampleRate = o.sampleRate;
      this.dialer = o.dialer;
    }
  }

  private readonly dialer: StreamDialer | undefined;

  prepare(_log: Logger, hooks: LegHooks): Promise<void> {
    this.hooks = hooks;
    if (this.media !== undefined) this.watch(this.media);
    return Promise.resolve();
  }

  async connect(_local: { ip: string; port: number }, log: Logger): Promise<LegAnswer> {
    if (this.over) throw new AbortedError('the call ended before it was answered');
    let media = this.media;
    if (media === undefined) {
      const dialer = this.dialer!;
      const { callSid } = await dialer.dial(log);
      log.info({ callSid }, '[BRIDGE] Exotel is calling the phone; waiting for its AgentStream');
      this.hooks?.onRinging();
      try {
        media = await dialer.arrival;
      } catch (err) {
        // no stream in time: the phone did not answer (the call ends as `no-answer`)
        if (err instanceof StreamProtocolError && err.reason === 'timeout')
          this.hooks?.onEnded({ reason: 'timeout', error: err }, 'no-answer');
        throw err;
      }
      if (this.over) {
        void media.close();
        throw new AbortedError('the call ended before it was answered');
      }
      this.media = media;
      this.watch(media);
      if (media.start !== undefined && media.start.sampleRate !== this.sampleRate)
        log.warn(
          { asked: this.sampleRate, got: media.start.sampleRate },
          '[BRIDGE] AgentStream rate differs from the one asked for',
        );
    }
    const start = media.start;
    if (start === undefined) throw new StreamProtocolError('unexpected', 'the stream has not started');
    return {
      sipCallId: start.callSid,
      remoteTag: start.streamSid,
      remoteHeaders: start.customParameters,
      allHeaders: {},
      remote: { address: media.remote.address, port: media.remote.port, codec: 'L16' },
      ...(this.direction === 'outbound' ? { attributes: streamAttributes(start) } : {}),
    };
  }

  hangup(): Promise<void> {
    this.over = true;
    this.dialer?.cancel();
    return this.media?.close() ?? Promise.resolve();
  }

  session(): undefined {
    return undefined;
  }

  stream(): AgentStreamMedia | undefined {
    return this.media;
  }

  release(): void {
    this.over = true;
    this.dialer?.cancel();
  }

  private watch(media: AgentStreamMedia): void {
    const report = (end: AgentStreamEnd): void => {
      this.over = true;
      const hooks = this.hooks;
      if (hooks === undefined) return;
      const reason: BridgeEndReason =
        end.how === 'stop' || end.how === 'closed'
          ? 'phone-hangup'
          : end.how === 'local'
            ? 'host-hangup'
            : end.error?.reason === 'timeout'
              ? 'media-timeout'
              : 'error';
      hooks.onEnded(
        end.how === 'error'
          ? { reason: 'transport-error', ...(end.error !== undefined ? { error: end.error } : {}) }
          : { reason: end.how === 'local' ? 'local-bye' : 'remote-bye' },
        reason,
      );
    };
    const ended = media.endInfo;
    if (ended !== undefined) {
      report(ended);
      return;
    }
    media.once('ended', report);
  }
}
