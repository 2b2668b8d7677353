/** The load benchmark's bridge variants (bench/load/variants.ts) and the levers table (levers.ts). */
import { describe, expect, it } from 'vitest';
import { defaultWorkers, parseBridgeVariant } from '../../bench/load/variants.js';
import { mergeWindows } from '../../bench/load/merge-windows.js';
import { leversTable } from '../../bench/load/levers.js';
import type { WorkerWindow } from '../../bench/load/bridge-worker.js';
import type { LoadReport, StepResult, SystemResult } from '../../bench/load/report.js';

describe('bridge variants', () => {
  it('plain `bridge` is the defaults in the default number of workers', () => {
    expect(parseBridgeVariant('bridge')).toEqual({ key: 'bridge', levers: '', livekitMedia: {}, workers: 1 });
    expect(parseBridgeVariant('bridge', 3).workers).toBe(3);
  });

  it('levers combine with +', () => {
    const v = parseBridgeVariant('bridge@queue0+nored+nodtx+kbps24+workers2', 1);
    expect(v.livekitMedia).toEqual({ audioSourceQueueMs: 0, red: false, dtx: false, maxBitrateBps: 24_000 });
    expect(v.workers).toBe(2);
    expect(parseBridgeVariant('bridge@directffi0').directFfi).toBe(false);
  });

  it('refuses unknown levers, queues that are not multiples of 10 and other systems', () => {
    expect(() => parseBridgeVariant('bridge@turbo')).toThrow(/unknown lever/);
    expect(() => parseBridgeVariant('bridge@queue15')).toThrow(/multiple of 10/);
    expect(() => parseBridgeVariant('bridge@kbpsx')).toThrow(/bad lever/);
    expect(() => parseBridgeVariant('livekit-sip')).toThrow(/not a bridge variant/);
  });

  it('--workers N wins over LOAD_WORKERS; both must be whole numbers ≥ 1', () => {
    expect(defaultWorkers(['--workers', '2'], { LOAD_WORKERS: '4' })).toBe(2);
    expect(defaultWorkers([], { LOAD_WORKERS: '4' })).toBe(4);
    expect(defaultWorkers([], {})).toBe(1);
    expect(() => defaultWorkers(['--workers', '0'], {})).toThrow();
  });
});

function win(over: Partial<WorkerWindow>): WorkerWindow {
  const pacing = { count: 1, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    seconds: 10,
    cpuUserMs: 100,
    cpuSystemMs: 50,
    rssBytes: 100,
    heapUsedBytes: 10,
    calls: 1,
    pacing,
    skippedPeriods: 0,
    latency: {} as WorkerWindow['latency'],
    inbound: [],
    framesCaptured: 500,
    framesDropped: 0,
    threads: { node: 10, AudioEncoder: 5 },
    eventLoopDelay: { p50: 1, p99: 2, max: 3 },
    gc: { count: 1, totalMs: 1, maxMs: 1 },
    ...over,
  };
}

describe('windows of several workers', () => {
  it('sums CPU, RSS, calls and threads, and keeps the worst worker’s pacing', () => {
    const worse = { count: 1, p50: 1, p99: 9, p999: 9, max: 9, mean: 1 };
    const m = mergeWindows([win({}), win({ seconds: 11, threads: { node: 7 }, pacing: worse })]);
    expect(m.cpuUserMs + m.cpuSystemMs).toBe(300);
    expect(m.rssBytes).toBe(200);
    expect(m.calls).toBe(2);
    expect(m.seconds).toBe(11);
    expect(m.threads).toEqual({ node: 17, AudioEncoder: 5 });
    expect(m.pacing.p99).toBe(9);
  });
});

function step(calls: number, cpu: number): StepResult {
  return {
    calls,
    active: calls,
    windowS: 10,
    cpuMsPerCallSecond: cpu,
    rssPerCallBytes: 2 ** 20,
    farEnd: { pacing: { p99: 1 } },
    lossPct: 0,
    phoneToAgent: { frames: 500, toneFrames: 490, expected: 500, lossPct: 2 },
    agentToPhoneMissingAudioPct: 0,
    verdict: 'ok',
    problems: [],
    internal: { threadCpuMs: { node: 10 * calls * cpu * 0.5, AudioEncoder: 10 * calls * cpu * 0.5 } },
  } as unknown as StepResult;
}

describe('levers table', () => {
  const sys = (over: Partial<SystemResult>, cpu: number): SystemResult => ({
    name: 'bridge',
    label: 'x',
    stopped: '',
    steps: [step(1, cpu), step(5, cpu / 2)],
    ...over,
  });

  it('is empty with one bridge variant, and otherwise compares each variant with the defaults', () => {
    const one = { systems: [sys({}, 40)] } as unknown as LoadReport;
    expect(leversTable(one)).toEqual([]);
    const r = {
      systems: [sys({}, 40), sys({ variant: 'bridge@queue0', levers: 'queue0', workers: 1 }, 30)],
    } as unknown as LoadReport;
    const lines = leversTable(r);
    const cells = (l: string) => l.split(' | ').length;
    // every table's delimiter row has as many cells as its header (else it is no table)
    for (let i = 1; i < lines.length; i++)
      if (lines[i]!.startsWith('| ---'))
        expect(lines[i]!.split('|').length).toBe(lines[i - 1]!.split('|').length);
    expect(
      lines.filter((l) => l.startsWith('| bridge') && cells(l) === 5).map((l) => l.split(' | ')[1]),
    ).toEqual([
      '5', // capacity: the largest step that kept quality
      '5',
    ]);
    const rows = lines.filter((l) => l.startsWith('| bridge') && cells(l) > 5);
    expect(rows.map((l) => l.split(' | ').slice(0, 4).join(' | '))).toEqual([
      '| bridge (defaults) | 1 | 40.00 | ',
      '| bridge @queue0 | 1 | 30.00 | -25 %',
      '| bridge (defaults) | 5 | 20.00 | ',
      '| bridge @queue0 | 5 | 15.00 | -25 %',
    ]);
    expect(rows[1]).toContain('| 15.0 | 15.0 |'); // JS and Opus encoder halves of 30 ms
    expect(rows[1]).toContain('| 98.0 |'); // tone frames 490 of 500
  });
});
