/**
 * The REFER client of a cold transfer (RFC 3515, RFC 6665 for the implicit subscription):
 * the transfer target turned into a `Refer-To` URI that cannot inject anything, and the
 * state of one REFER from the moment it is sent to the end of its subscription: the
 * REFER's final response, then the far end's NOTIFYs (`Event: refer`,
 * `Subscription-State`, a `message/sipfrag` body per RFC 3420) until a final status.
 *
 * No sockets: {@link CallSession} sends the REFER and hands us its answer and every
 * NOTIFY of the dialog; the timeout runs on the injected clock.
 */
import {
  AbortedError,
  InvalidHeaderError,
  SipTimeoutError,
  TransferError,
  type BridgeError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReferProgress, ReferResult } from './call-types.js';
import { getCSeq, splitHeaderList } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';
import { normalizePhoneNumber, assertSafeHeaderValue } from './phone.js';
import { isSipfragContentType, parseSipfrag } from './sipfrag.js';
import { TimerSet, type TimerClock } from './timers.js';
import { formatHost, formatUri, parseUri, type SipUri } from './uri.js';

/** How long {@link CallSession.refer} waits for a final status by default (ms). */
export const DEFAULT_REFER_TIMEOUT_MS = 30_000;

/** Options of {@link CallSession.refer}. */
export interface ReferOptions {
  /** Aborting gives up waiting (rejects with `AbortedError`); later NOTIFYs are answered 481. */
  signal?: AbortSignal;
  /** Give up (rejects with `TransferError`, cause `SipTimeoutError`) without a final status in time. Default 30000. */
  timeoutMs?: number;
}

/**
 * The `Refer-To` URI (without angle brackets) for a transfer target:
 * - a phone number (`+919876543210`, or national, normalized like the `to` of an
 *   INVITE) becomes `sip:<E.164>@<trunk host>`, the host our INVITEs go to;
 * - a `sip:`, `sips:` or `tel:` URI is parsed and written back; URI headers (`?…`, which
 *   would become headers of the far end's INVITE) and a `method` parameter are refused.
 *
 * @throws InvalidHeaderError for control characters (CR, LF…), `<`, `>`, `"`, spaces or
 *   anything else the URI grammar refuses; InvalidPhoneNumberError for a bad number.
 */
export function referTarget(target: string, trunkHost: string): string {
  if (typeof target !== 'string') throw new InvalidHeaderError('the transfer target must be a string');
  assertSafeHeaderValue('Refer-To', target);
  const t = target.trim();
  if (/^(sips?|tel):/i.test(t)) {
    let uri: SipUri;
    try {
      uri = parseUri(t, 'Refer-To');
    } catch (err) {
      throw new InvalidHeaderError(
        `transfer target ${JSON.stringify(t.slice(0, 64))} is not a valid URI: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (uri.headers.size > 0)
      throw new InvalidHeaderError('a transfer target may not carry URI headers ("?…")');
    if (uri.params.has('method')) throw new InvalidHeaderError('a transfer target may not set "method"');
    return formatUri(uri);
  }
  return `sip:${normalizePhoneNumber(t)}@${formatHost(trunkHost)}`;
}

/** Where one REFER is: waiting for its answer, accepted (202), settled, or over (NOTIFYs get 481). */
export type ReferState = 'sent' | 'accepted' | 'settled' | 'finished';

type ReferTimer = 'timeout';

/**
 * One REFER and its implicit subscription. {@link result} settles once: `{ status }` on a
 * 2xx sipfrag; `TransferError` on a refused REFER, a ≥300 sipfrag, a subscription
 * terminated without success, the timeout or the end of the call; `AbortedError` on abort.
 * After a final sipfrag the subscription stays until `Subscription-State: terminated`
 * (NOTIFYs are still answered 200); after a timeout, abort or the end of the call it is
 * over and NOTIFYs are answered 481.
 */
export class ReferSubscription {
  readonly result: Promise<ReferResult>;
  private current: ReferState = 'sent';
  private seq: number | undefined;
  private resolve!: (r: ReferResult) => void;
  private reject!: (e: BridgeError) => void;
  private readonly t: TimerSet<ReferTimer>;
  private onAbort: (() => void) | undefined;

  constructor(
    clock: TimerClock,
    private readonly log: Logger,
    private readonly options: ReferOptions & { onProgress: (p: ReferProgress) => void },
  ) {
    this.t = new TimerSet<ReferTimer>(clock);
    this.result = new Promise<ReferResult>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    const ms = options.timeoutMs ?? DEFAULT_REFER_TIMEOUT_MS;
    if (ms > 0 && Number.isFinite(ms)) {
      this.t.start('timeout', ms, () => {
        this.log.warn(`[SIP] Transfer: no final status within ${ms} ms`);
        this.fail(
          new TransferError(`no final transfer status within ${ms} ms`, undefined, '', {
            cause: new SipTimeoutError(`REFER subscription timed out after ${ms} ms`),
          }),
          true,
        );
      });
    }
    const signal = options.signal;
    if (signal !== undefined) {
      this.onAbort = () => this.fail(new AbortedError('transfer aborted', { cause: signal.reason }), true);
      if (signal.aborted) queueMicrotask(this.onAbort);
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Where the REFER is. */
  get state(): ReferState {
    return this.current;
  }

  /** Whether the subscription is over (a new REFER may replace it). */
  get finished(): boolean {
    return this.current === 'finished';
  }

  /** The REFER's final response, or `undefined` after a timeout or transport failure. */
  answered(status: number | undefined, response: SipResponse | undefined): void {
    if (this.current === 'finished') return;
    if (status === undefined || response === undefined) {
      this.fail(new TransferError('no answer to REFER', undefined, ''), true);
      return;
    }
    if (status >= 300) {
      this.log.warn(`[SIP] Transfer refused: ${status} ${response.reason}`);
      this.fail(
        new TransferError(`REFER refused: ${status} ${response.reason}`, status, response.reason),
        true,
      );
      return;
    }
    try {
      this.seq = getCSeq(response).seq;
    } catch {
      // Parse fallback: without the CSeq, NOTIFYs are matched without their `id`.
      this.seq = undefined;
    }
    if (this.current === 'sent') this.current = 'accepted';
    this.log.info(`[SIP] Transfer accepted (${status}): waiting for NOTIFY`);
  }

  /**
   * A NOTIFY of the dialog: the status to answer it with (200, or 481 when it is not for
   * this subscription or the subscription is over).
   */
  notify(req: SipRequest): 200 | 481 {
    if (this.current === 'finished' || !this.isOurEvent(req.headers.get('Event'))) return 481;
    const ss = parseSubscriptionState(req.headers.get('Subscription-State'));
    const frag = isSipfragContentType(req.headers.get('Content-Type')) ? parseSipfrag(req.body) : undefined;
    if (frag === undefined) {
      this.log.debug(
        { contentType: req.headers.get('Content-Type') },
        '[SIP] NOTIFY without a usable sipfrag',
      );
    } else {
      this.log.info(`[SIP] Transfer progress: ${frag.status} ${frag.reason} (${ss.state})`);
      this.options.onProgress({ status: frag.status, reason: frag.reason, subscriptionState: ss.state });
      if (frag.status >= 200 && frag.status < 300) this.succeed({ status: frag.status, reason: frag.reason });
      else if (frag.status >= 300)
        this.fail(
          new TransferError(`transfer failed: ${frag.status} ${frag.reason}`, frag.status, frag.reason),
          false,
        );
    }
    if (ss.state === 'terminated') {
      const why = ss.reason !== undefined ? ` (${ss.reason})` : '';
      this.fail(
        new TransferError(
          `the transfer subscription ended without a final status${why}`,
          undefined,
          ss.reason ?? '',
        ),
        true,
      );
    }
    return 200;
  }

  /** The call ended: whatever was pending fails, the subscription is over. */
  callEnded(): void {
    this.fail(new TransferError('the call ended before the transfer completed'), true);
  }

  private isOurEvent(value: string | undefined): boolean {
    if (value === undefined) return false;
    const [pkg, ...params] = value.split(';').map((s) => s.trim());
    if (pkg?.toLowerCase() !== 'refer') return false;
    const id = params.find((p) => /^id\s*=/i.test(p));
    if (id === undefined || this.seq === undefined) return true;
    return id.slice(id.indexOf('=') + 1).trim() === String(this.seq);
  }

  private succeed(r: ReferResult): void {
    if (this.current === 'settled' || this.current === 'finished') return;
    this.current = 'settled';
    this.cleanup();
    this.log.info(`[SIP] Transfer succeeded (${r.status} ${r.reason})`);
    this.resolve(r);
  }

  /** Rejects when still pending; `over` also ends the subscription. */
  private fail(e: BridgeError, over: boolean): void {
    if (this.current !== 'settled' && this.current !== 'finished') {
      this.cleanup();
      this.reject(e);
      this.current = 'settled';
    }
    if (over) {
      this.cleanup();
      this.current = 'finished';
    }
  }

  private cleanup(): void {
    this.t.clearAll();
    if (this.options.signal !== undefined && this.onAbort !== undefined)
      this.options.signal.removeEventListener('abort', this.onAbort);
  }
}

/** `Subscription-State: active|pending|terminated;reason=…` (RFC 6665 §8.2.3); absent or odd reads as `active`. */
export function parseSubscriptionState(value: string | undefined): {
  state: ReferProgress['subscriptionState'];
  reason?: string;
} {
  if (value === undefined) return { state: 'active' };
  const [first, ...params] = (splitHeaderList(value)[0] ?? '').split(';').map((s) => s.trim());
  const s = first?.toLowerCase();
  const state = s === 'terminated' || s === 'pending' ? s : 'active';
  const reason = params.find((p) => /^reason\s*=/i.test(p));
  return reason === undefined ? { state } : { state, reason: reason.slice(reason.indexOf('=') + 1).trim() };
}
