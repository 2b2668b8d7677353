/**
 * Pacing, loss and jitter of the RTP that reaches the far end, read from kernel timestamps:
 * `tcpdump` captures the far end's RTP ports on the loopback interface during the window,
 * and the pcap is analysed afterwards. On loopback a packet is timestamped inside the
 * sender's `sendmsg()`, so these figures are the system under test's own send timing, free
 * of the far end's event-loop delay (the far end is a Node process pacing every call
 * itself, and on a busy 2-core machine it reads datagrams milliseconds late).
 *
 * Needs `tcpdump` (Debian package `tcpdump`) and the right to capture (root or
 * CAP_NET_RAW); without them the benchmark falls back to the far end's own timestamps and
 * says so in the report.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PacingHistogram, type PacingSummary } from '../../src/entries/media.js';
import {
  isConstant,
  newStreamTiming,
  observePacket,
  summarizeWindow,
  type RtpWindow,
  type StreamTiming,
  type StreamWindow,
} from './rtp-timing.js';

export interface CaptureWindow extends RtpWindow {
  source: 'kernel (tcpdump on lo)';
  /**
   * How late each packet left against its own stream's schedule: (arrival − RTP time) minus
   * the smallest such offset within ±1 s of it (so slow clock drift does not count).
   */
  lateness: PacingSummary;
  /** Packets the kernel dropped from the capture (tcpdump's own count). */
  droppedByKernel: number;
}

/** Why a capture cannot run here, or undefined when it can. */
export function captureUnavailable(): string | undefined {
  const r = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (r.error) return 'tcpdump is not installed (apt-get install tcpdump)';
  if (process.getuid?.() !== 0) return 'capturing needs root (or CAP_NET_RAW)';
  return undefined;
}

/** One capture of UDP to the far end's RTP ports on `lo`. */
export class RtpCapture {
  private proc: ChildProcess | undefined;
  private dir = '';
  private file = '';
  private stderr = '';

  constructor(private readonly portRange: [number, number]) {}

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'rtp-cap-'));
    this.file = join(this.dir, 'rtp.pcap');
    this.stderr = '';
    const [lo, hi] = this.portRange;
    const proc = spawn(
      'tcpdump',
      [
        '-i',
        'lo',
        '-n',
        '-U',
        '-B',
        '32768',
        '-s',
        '256',
        '--time-stamp-precision=nano',
        '-w',
        this.file,
        `udp and dst host 127.0.0.1 and dst portrange ${lo}-${hi}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // tcpdump says "listening on lo" once the capture is armed.
    const deadline = Date.now() + 5000;
    while (!this.stderr.includes('listening on')) {
      if (proc.exitCode !== null) throw new Error(`tcpdump exited: ${this.stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`tcpdump did not start: ${this.stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the capture and analyses the streams whose destination port is in `ports`. */
  async stop(ports: Set<number>): Promise<CaptureWindow> {
    const proc = this.proc;
    if (!proc) throw new Error('capture not started');
    this.proc = undefined;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    const dropped = Number(/(\d+) packets? dropped by kernel/.exec(this.stderr)?.[1] ?? 0);
    const pcap = await readFile(this.file);
    await rm(this.dir, { recursive: true, force: true });
    return { ...analysePcap(pcap, ports), droppedByKernel: dropped };
  }

  /** Kills a capture still running (error paths). */
  kill(): void {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }
}

interface Stream extends StreamWindow {
  timing: StreamTiming;
  /** arrival − RTP time (ms) of every packet, for the lateness figure. */
  offsets: number[];
  /** RTP time since the stream's first packet, in samples (unwrapped). */
  tsUnwrapped: number;
  received: number;
  silent: number;
}

/** Parses a classic pcap (Ethernet link type, as tcpdump writes for `lo`) of RTP over UDP/IPv4. */
export function analysePcap(buf: Buffer, ports: Set<number>): Omit<CaptureWindow, 'droppedByKernel'> {
  const pacing = new PacingHistogram(200);
  const streams = new Map<string, Stream>();
  if (buf.length < 24) throw new Error('pcap: too short');
  const magic = buf.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nano) throw new Error(`pcap: unknown magic ${magic.toString(16)}`);
  const linkType = buf.readUInt32LE(20);
  if (linkType !== 1) throw new Error(`pcap: link type ${linkType}, expected Ethernet (1)`);
  let at = 24;
  while (at + 16 <= buf.length) {
    const sec = buf.readUInt32LE(at);
    const frac = buf.readUInt32LE(at + 4);
    const incl = buf.readUInt32LE(at + 8);
    const pkt = at + 16;
    at = pkt + incl;
    if (at > buf.length) break; // truncated last record
    const arrivalMs = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    // Ethernet (14) → IPv4 → UDP (8) → RTP (12+)
    if (incl < 14 + 20 + 8 + 12 || buf.readUInt16BE(pkt + 12) !== 0x0800) continue;
    const ip = pkt + 14;
    const ihl = (buf[ip]! & 0x0f) * 4;
    if (buf[ip + 9] !== 17) continue;
    const udp = ip + ihl;
    const srcPort = buf.readUInt16BE(udp);
    const dstPort = buf.readUInt16BE(udp + 2);
    const udpLen = buf.readUInt16BE(udp + 4);
    if (!ports.has(dstPort)) continue;
    const rtp = udp + 8;
    if (rtp + 12 > pkt + incl || buf[rtp]! >> 6 !== 2) continue;
    const pt = buf[rtp + 1]! & 0x7f;
    if (pt >= 72 && pt <= 79) continue; // RTCP on the RTP port
    const seq = buf.readUInt16BE(rtp + 2);
    const ts = buf.readUInt32BE(rtp + 4);
    const key = `${srcPort}>${dstPort}`;
    let s = streams.get(key);
    if (s === undefined) {
      s = { timing: newStreamTiming(), offsets: [], tsUnwrapped: 0, received: 0, silent: 0 };
      streams.set(key, s);
    }
    const step = observePacket(s.timing, seq, ts, arrivalMs, true, pacing);
    if (step < 0) continue;
    s.tsUnwrapped += step;
    s.offsets.push(arrivalMs - s.tsUnwrapped / 8);
    s.received++;
    // digital silence: every captured payload byte the same
    if (isConstant(buf, rtp + 12, Math.min(pkt + incl, udp + udpLen))) s.silent++;
  }
  const lateness = new PacingHistogram(200);
  const W = 50; // ±1 s of 20 ms packets
  for (const s of streams.values()) {
    const o = s.offsets;
    for (let i = 0; i < o.length; i++) {
      let min = Infinity;
      for (let j = Math.max(0, i - W); j <= Math.min(o.length - 1, i + W); j++) if (o[j]! < min) min = o[j]!;
      lateness.record(o[i]! - min);
    }
  }
  return {
    source: 'kernel (tcpdump on lo)',
    ...summarizeWindow(streams.values(), pacing),
    lateness: lateness.summary(),
  };
}
