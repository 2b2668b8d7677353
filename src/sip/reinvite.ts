/**
 * Our own re-INVITE inside a dialog (RFC 3261 §14.1), for hold, resume and the session
 * refresh: send it, answer one digest challenge, retry once after the glare back-off on a
 * 491 (or when the far end's re-INVITE still awaits our ACK: no two INVITE transactions
 * at once), ACK the 2xx and every retransmission of it (§13.2.2.4). The session that owns
 * the dialog decides what a failure means (`dialogGone`, `timedOut`); the back-off timer
 * runs on its clock.
 */
import { ClosedError, ReinviteError, SipTimeoutError, toBridgeError, type BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { bestEffortAsync } from '../best-effort.js';
import type { RandomSource } from '../random.js';
import { isChallenge, retryWithCredentials } from './auth.js';
import type { Dialog } from './dialog.js';
import type { SipTarget } from './flow.js';
import type { SipRequest, SipResponse } from './message.js';
import type { UaContext } from './ua-context.js';

/** The glare back-off of RFC 3261 §14.1 for the owner of the Call-ID: 2.1 to 4 s. */
export const GLARE_MIN_MS = 2100;
export const GLARE_MAX_MS = 4000;

/** A back-off in [{@link GLARE_MIN_MS}, {@link GLARE_MAX_MS}], in 10 ms steps. */
export function glareDelayMs(random: RandomSource): number {
  const b = random(2);
  const steps = (GLARE_MAX_MS - GLARE_MIN_MS) / 10 + 1;
  return GLARE_MIN_MS + ((((b[0] ?? 0) << 8) | (b[1] ?? 0)) % steps) * 10;
}

/** What a re-INVITE needs from the session that owns the dialog. */
export interface ReinviteOwner {
  readonly ctx: UaContext;
  readonly dialog: Dialog;
  readonly log: Logger;
  /** Where in-dialog requests go now. */
  target(): SipTarget;
  /** Whether the session is still up (checked before every attempt). */
  active(): boolean;
  /** The far end's re-INVITE awaits our ACK: start with the back-off. */
  readonly awaitingAck: boolean;
  /** Our INVITE transaction starts (`true`) or has its final answer (`false`): offers meanwhile are glare. */
  inFlight(on: boolean): void;
  /** Runs `fn` after the glare back-off. */
  backOff(fn: () => void): void;
  /** A 481 or 408: the dialog is gone (RFC 3261 §12.2.1.2). */
  dialogGone(status: number): void;
  /** No answer at all (Timer B): the owner ends the dialog. */
  timedOut(error: SipTimeoutError): void;
}

/**
 * Sends a re-INVITE with `sdp()` (called for every attempt but a digest retry, so a retry
 * after the back-off carries a fresh version) and `extra` headers until a final answer.
 * Between attempts nothing of ours is in progress: the far end's offer is answered. Resolves with
 * the 2xx; rejects with `ReinviteError` (a final non-2xx), `SipTimeoutError`,
 * `SipTransportError`, or `ClosedError` when the session ended before an attempt.
 */
export function sendReinvite(
  owner: ReinviteOwner,
  sdp: () => string,
  extra: readonly [string, string][] = [],
): Promise<SipResponse> {
  const { ctx, dialog, log } = owner;
  return new Promise<SipResponse>((resolve, reject) => {
    let glareRetried = false;
    const fail = (e: BridgeError): void => {
      owner.inFlight(false);
      reject(e);
    };
    const attempt = (authRetry: SipRequest | undefined): void => {
      if (!owner.active()) return fail(new ClosedError('call session'));
      const req = authRetry ?? dialog.createRequest('INVITE', { body: sdp() });
      if (authRetry === undefined) {
        req.headers.prepend('Via', ctx.via());
        for (const [n, v] of extra) req.headers.append(n, v);
        req.headers.append('User-Agent', ctx.userAgent);
      }
      const seq = dialog.localSeq;
      const target = owner.target();
      let ack: SipRequest | undefined;
      owner.inFlight(true);
      try {
        ctx.layer.sendInvite(req, target, {
          onResponse: (r) => {
            if (r.status < 200) return;
            if (r.status < 300) {
              if (ack === undefined) {
                ack = dialog.createRequest('ACK', { ackOf: seq });
                ack.headers.prepend('Via', ctx.via());
                for (const h of ['Authorization', 'Proxy-Authorization']) {
                  const v = req.headers.get(h);
                  if (v !== undefined) ack.headers.append(h, v);
                }
                log.info(`[SIP] Received ${r.status} ${r.reason} (re-INVITE): sending ACK`);
                owner.inFlight(false);
                resolve(r);
              }
              void bestEffortAsync(log, '[SIP] ACK of our re-INVITE', ctx.layer.sendStateless(ack, target));
              return;
            }
            log.info(`[SIP] Received ${r.status} ${r.reason} (re-INVITE)`);
            owner.inFlight(false);
            if (isChallenge(r.status) && authRetry === undefined && ctx.auth !== undefined) {
              const retry = retryWithCredentials(req, r, ctx.auth, ctx.via());
              if (retry.ok) {
                dialog.localSeq += 1; // the retry took the next CSeq
                return attempt(retry.request);
              }
              log.warn({ err: retry.error.message }, '[SIP] cannot answer the challenge to our re-INVITE');
            }
            if (r.status === 491 && !glareRetried) {
              glareRetried = true;
              return owner.backOff(() => attempt(undefined));
            }
            if (r.status === 481 || r.status === 408) owner.dialogGone(r.status);
            fail(new ReinviteError(r.status, r.reason));
          },
          onTimeout: () => {
            const e = new SipTimeoutError('no answer to our re-INVITE');
            log.warn('[SIP] re-INVITE timed out: hanging up');
            fail(e);
            owner.timedOut(e);
          },
          onTransportError: (e) => {
            log.warn({ err: e.message }, '[SIP] re-INVITE could not be sent');
            fail(e);
          },
        });
      } catch (err) {
        fail(toBridgeError(err));
      }
    };
    if (owner.awaitingAck) {
      glareRetried = true;
      owner.backOff(() => attempt(undefined));
    } else attempt(undefined);
  });
}
