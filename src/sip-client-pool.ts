/**
 * One `ExotelSipClient` per distinct trunk configuration, shared by every bridged call in
 * the process: a single listener on the customer SIP port and one TCP connection to the
 * trunk carry all calls. Reference-counted; the last release closes it.
 */
import type { ExotelSettings } from './config.js';
import type { Logger } from './logger.js';
import { ExotelSipClient } from './sip/client.js';
import type { SipTimerValues } from './sip/timers.js';

/** Client settings beyond the trunk configuration (part of the sharing key). */
export interface SipClientTuning {
  /** RFC 3261 timer base values (T1, T2, T4). */
  timers?: Partial<SipTimerValues>;
}

export interface SipClientLease {
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
  return JSON.stringify([
    t.timers ?? {},
    s.sipHost,
    s.sipPort,
    s.transport,
    s.customerIp,
    s.customerSipPort,
    s.sipBindIp,
    s.callerId,
    s.fromDomain,
    s.accountSid ?? '',
    s.auth?.username ?? '',
    s.auth?.password ?? '',
  ]);
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
      fromDomain: settings.fromDomain,
      callerId: settings.callerId,
      accountSid: settings.accountSid,
      auth: settings.auth,
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
