/**
 * "Nothing left behind" for tests against real peers: registers a beforeEach/afterEach
 * pair that runs the file's cleanups, then fails the test when the host process saw an
 * unhandled rejection, when Node's active sockets, servers or timers did not come back to
 * where they were before the test, or when a shared SIP client is still open.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { activeResources, runCleanups, type Cleanups } from './e2e.js';
import { eventually } from './livekit.js';

export function useLeakWatch(cleanups: Cleanups): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  let baseline: Record<string, number> = {};
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    baseline = activeResources();
  });
  afterEach(async () => {
    await runCleanups(cleanups);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled, 'unhandled rejections in the host process').toEqual([]);
    // HTTP keep-alive sockets of the RoomService client (undici) may outlive a test by a
    // few seconds, and so may its timers: allow two of each.
    const back = (): boolean => {
      const now = activeResources();
      return (
        (now.UDPWrap ?? 0) <= (baseline.UDPWrap ?? 0) &&
        (now.TCPServerWrap ?? 0) <= (baseline.TCPServerWrap ?? 0) &&
        (now.TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0) + 2 &&
        (now.Timeout ?? 0) <= (baseline.Timeout ?? 0) + 2
      );
    };
    await eventually('active resources back to baseline', back, 10_000).catch(() => {
      throw new Error(
        `resources not back to baseline: before ${JSON.stringify(baseline)}, after ${JSON.stringify(activeResources())}; sockets open: ${openSockets()}`,
      );
    });
    expect(sharedSipClientCount(), 'shared SIP clients still open').toBe(0);
  });
}

/** The local addresses of the sockets still open (Node's undocumented handle list), for the failure message. */
function openSockets(): string {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const out: string[] = [];
  for (const h of handles) {
    const address = (h as { address?: () => unknown }).address;
    if (typeof address !== 'function') continue;
    try {
      const a = address.call(h) as { address?: string; port?: number } | null;
      if (a?.port !== undefined) out.push(`${(h as { type?: string }).type ?? 'tcp'} ${a.address}:${a.port}`);
    } catch {
      // a closed socket has no address
    }
  }
  return out.join(', ') || 'none';
}
