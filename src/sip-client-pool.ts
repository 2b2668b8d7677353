/**
 * One `ExotelSipClient` per trunk, shared by every bridged call in the process: a single
 * listener on the customer SIP port and one connection to the trunk carry all calls,
 * whatever each call's caller ID, From domain or headers (those are per-call options of
 * `invite`). Reference-counted; the last release closes it.
 */
import { createHash } from 'node:crypto';
import type { ExotelSettings } from './config.js';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from './logger.js';
import { ExotelSipClient } from './sip/client.js';
import type { SipTimerValues } from './sip/timers.js';

/** Client settings beyond the trunk configuration (part of the sharing key). */
export interface SipClientTuning {
  /** RFC 3261 timer base values (T1, T2, T4). */
  timers?: Partial<SipTimerValues>;
}

/** A share of the process's SIP client for one trunk (see {@link acquireSipClient}). */
export interface SipClientLease {
  /** The shared client, started; use it, never close it (call `release()` instead). */
  readonly client: ExotelSipClient;
  /** Gives the lease back; the client closes when no lease is left. Idempotent. */
  release(): void;
}

interface Entry {
  client: ExotelSipClient;
  started: Promise<void>;
  refs: number;
}

const pool = new Map<string, Entry>();

function keyOf(s: ExotelSettings, t: SipClientTuning): string {
  // What makes a different trunk connection or listener; never the per-call settings.
  const tls = s.tls;
  const tlsId =
    tls === undefined
      ? ''
      : createHash('sha256')
          .update(
            JSON.stringify([
              tls.ca ?? null,
              tls.cert ?? null,
              tls.key ?? null,
              tls.servername ?? null,
              tls.rejectUnauthorized ?? true,
            ]),
          )
          .digest('hex');
  return JSON.stringify([
    t.timers ?? {},
    s.sipHost,
    s.sipPort,
    s.transport,
    s.customerIp,
    s.customerSipPort,
    s.sipBindIp,
    s.accountSid ?? '',
    s.auth?.username ?? '',
    s.auth?.password ?? '',
    tlsId,
    s.keepaliveIntervalMs ?? null,
    s.optionsIntervalMs ?? null,
  ]);
}

/** TLS client options for the trunk connection: the settings, with SNI defaulting to the SIP host. */
function tlsOptions(s: ExotelSettings): ConnectionOptions | undefined {
  const tls = s.tls;
  if (tls === undefined) return undefined;
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca as ConnectionOptions['ca'] } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
  };
}

/** Leases the shared client for these settings, starting it on first use. */
export async function acquireSipClient(
  settings: ExotelSettings,
  logger: Logger,
  tuning: SipClientTuning = {},
): Promise<SipClientLease> {
  const key = keyOf(settings, tuning);
  let entry = pool.get(key);
  if (entry === undefined) {
    const client = new ExotelSipClient({
      sipHost: settings.sipHost,
      sipPort: settings.sipPort,
      transport: settings.transport,
      customerIp: settings.customerIp,
      customerSipPort: settings.customerSipPort,
      bindIp: settings.sipBindIp,
      ...(settings.fromDomain !== '' ? { fromDomain: settings.fromDomain } : {}),
      ...(settings.callerId !== '' ? { callerId: settings.callerId } : {}),
      accountSid: settings.accountSid,
      auth: settings.auth,
      ...(tlsOptions(settings) !== undefined ? { tls: tlsOptions(settings) } : {}),
      ...(settings.keepaliveIntervalMs !== undefined
        ? { keepaliveIntervalMs: settings.keepaliveIntervalMs }
        : {}),
      ...(settings.optionsIntervalMs !== undefined ? { optionsIntervalMs: settings.optionsIntervalMs } : {}),
      ...(tuning.timers !== undefined ? { timers: tuning.timers } : {}),
      logger,
    });
    const created: Entry = { client, started: client.start(), refs: 0 };
    entry = created;
    pool.set(key, created);
    created.started.catch(() => {
      if (pool.get(key) === created) pool.delete(key);
    });
  }
  const held = entry;
  held.refs += 1;
  try {
    await held.started;
  } catch (err) {
    held.refs -= 1;
    throw err;
  }
  let released = false;
  return {
    client: held.client,
    release() {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs === 0 && pool.get(key) === held) {
        pool.delete(key);
        void held.client.close();
      }
    },
  };
}

/** Number of shared clients currently open (for tests and diagnostics). */
export function sharedSipClientCount(): number {
  return pool.size;
}
