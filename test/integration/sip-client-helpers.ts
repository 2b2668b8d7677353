/**
 * Shared pieces of the ExotelSipClient integration tests: a client pointed at a local
 * peer, an SDP offer, cleanup that proves nothing was left open, and SIPp trace helpers.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, expect } from 'vitest';
import { ExotelSipClient, type ExotelSipClientOptions } from '../../src/sip/client.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { createMemoryLogger, type LogRecord } from '../../src/logger.js';
import type { SippRun } from '../harness/sipp.js';

export const CALLER_ID = '08044319240';
export const CALLEE = '+919876543210';

const cleanups: (() => Promise<void>)[] = [];
let baseline = 0;

const sockets = (): number =>
  process.getActiveResourcesInfo().filter((r) => /TCP|UDP|Pipe.*Server/.test(r) && !/Pipe/.test(r)).length;

/** Registers the per-test cleanup and the "nothing left open" check. Call once per file. */
export function useCleanup(): void {
  beforeEach(async () => {
    await new Promise((r) => setTimeout(r, 30));
    baseline = sockets();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await new Promise((r) => setTimeout(r, 50));
    expect(
      sockets(),
      `open sockets after the test: ${process.getActiveResourcesInfo().join(', ')}`,
    ).toBeLessThanOrEqual(baseline);
  });
}

/** Runs `fn` after the test (in reverse order of registration). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

/** A client for a peer on 127.0.0.1:`port`, with an in-memory logger. */
export function makeClient(
  port: number,
  transport: 'tcp' | 'udp',
  extra: Partial<ExotelSipClientOptions> = {},
): { client: ExotelSipClient; records: LogRecord[] } {
  const logger = createMemoryLogger();
  const client = new ExotelSipClient({
    sipHost: '127.0.0.1',
    sipPort: port,
    transport,
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    fromDomain: 'acme.sip.exotel.com',
    callerId: CALLER_ID,
    logger,
    ...extra,
  });
  onCleanup(() => client.close());
  return { client, records: logger.records };
}

/** Our SDP offer (PCMA, PCMU, telephone-event), RTP on a port nobody listens to. */
export function offer(port = 40_000): string {
  return createSdpOffer({ ip: '127.0.0.1', port });
}

/** Log messages in order. */
export function messages(records: LogRecord[]): string[] {
  return records.map((r) => r.msg);
}

/** SIP messages SIPp logged as received, each as its text (from `-trace_msg`). */
export async function received(sipp: SippRun): Promise<string[]> {
  const log = await sipp.messages();
  const out: string[] = [];
  const re = /message received \[\d+\] bytes :\n\n([\s\S]*?)(?=\n-{5,}|\n\n-{5,}|$)/g;
  for (const m of log.matchAll(re)) out.push((m[1] ?? '').replace(/\r/g, ''));
  return out;
}

/** Request lines SIPp received (`INVITE sip:… SIP/2.0`, `ACK …`). */
export async function receivedRequests(sipp: SippRun): Promise<string[]> {
  return (await received(sipp)).map((m) => m.split('\n')[0] ?? '').filter((l) => !l.startsWith('SIP/2.0'));
}

/** SIGKILLs the SIPp process itself (not its watchdog), so the kernel drops its sockets. */
export function killSipp(sipp: SippRun): void {
  const pids = execFileSync('pgrep', ['-P', String(sipp.process.child.pid)], { encoding: 'utf8' })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
