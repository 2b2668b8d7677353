import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { resourceCounts, type ResourceKind } from '../src/index.js';
import { systemTimerClock } from '../src/clock.js';
import { PacedScheduler } from '../src/rtp/pacer.js';
import { bindRtpPorts } from '../src/rtp/port.js';
import { RESOURCE_KINDS, heldUntilClose, resourceClosed, resourceOpened } from '../src/resources.js';

const count = (kind: ResourceKind): number => resourceCounts()[kind];
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('resourceCounts()', () => {
  it('lists every kind, all zero while nothing is open', () => {
    const c = resourceCounts();
    expect(Object.keys(c).sort()).toEqual([...RESOURCE_KINDS].sort());
    for (const k of RESOURCE_KINDS) expect(c[k], k).toBe(0);
  });

  it('is a frozen snapshot: later changes do not show in it', () => {
    const before = resourceCounts();
    resourceOpened('participant');
    expect(before.participant).toBe(0);
    expect(count('participant')).toBe(1);
    expect(Object.isFrozen(before)).toBe(true);
    resourceClosed('participant');
    expect(count('participant')).toBe(0);
  });

  it('is shared through globalThis (one registry for the ESM and CJS builds)', () => {
    const shared = (globalThis as Record<symbol, unknown>)[Symbol.for('exotel-livekit-bridge.resources.v1')];
    expect(shared).toBeDefined();
  });
});

describe('heldUntilClose', () => {
  it('counts a socket until its close event, not before', async () => {
    const sock = createSocket('udp4');
    heldUntilClose('rtp-socket', sock);
    expect(count('rtp-socket')).toBe(1);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    expect(count('rtp-socket')).toBe(1);
    await new Promise<void>((r) => sock.close(() => r()));
    expect(count('rtp-socket')).toBe(0);
  });

  it('counts a server until it is closed', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    heldUntilClose('listener', server);
    expect(count('listener')).toBe(1);
    await new Promise<void>((r) => server.close(() => r()));
    expect(count('listener')).toBe(0);
  });

  it('counts the RTP and RTCP sockets of bindRtpPorts until they are closed', async () => {
    const ports = await bindRtpPorts({ bindIp: '127.0.0.1' });
    expect(count('rtp-socket')).toBe(2);
    await new Promise<void>((r) => ports.rtp.close(() => r()));
    expect(count('rtp-socket')).toBe(1);
    await new Promise<void>((r) => ports.rtcp!.close(() => r()));
    expect(count('rtp-socket')).toBe(0);
  });
});

describe('system clock timers', () => {
  it('counts an armed timer, unref`d or not, until it fires', async () => {
    let fired = 0;
    systemTimerClock.setTimeout(() => fired++, 1);
    systemTimerClock.setTimeout(() => fired++, 1, { unref: true });
    expect(count('timer')).toBe(2);
    await tick(30);
    expect(fired).toBe(2);
    expect(count('timer')).toBe(0);
  });

  it('counts a timer until it is cleared; clearing again or after it fired changes nothing', async () => {
    const a = systemTimerClock.setTimeout(() => undefined, 60_000, { unref: true });
    const b = systemTimerClock.setTimeout(() => undefined, 1);
    expect(count('timer')).toBe(2);
    systemTimerClock.clearTimeout(a);
    systemTimerClock.clearTimeout(a);
    expect(count('timer')).toBe(1);
    await tick(30);
    systemTimerClock.clearTimeout(b);
    expect(count('timer')).toBe(0);
  });

  it('does not count immediates (they run on the next turn whatever happens)', () => {
    const h = systemTimerClock.setImmediate(() => undefined);
    expect(count('timer')).toBe(0);
    systemTimerClock.clearImmediate(h);
  });
});

describe('pacer registrations', () => {
  it('counts each registration until it is unregistered (once, however often unregister is called)', () => {
    const s = new PacedScheduler({ autoRun: false });
    const a = s.register({ onTick: () => undefined });
    const b = s.register({ onTick: () => undefined });
    expect(count('pacer')).toBe(2);
    a.unregister();
    a.unregister();
    expect(count('pacer')).toBe(1);
    b.unregister();
    expect(count('pacer')).toBe(0);
  });
});
