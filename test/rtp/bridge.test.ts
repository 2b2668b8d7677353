import { afterEach, describe, expect, it } from 'vitest';
import { G711Codec, type G711Law } from '../../src/codec/g711.js';
import { ConfigError } from '../../src/errors.js';
import { createMemoryLogger } from '../../src/logger.js';
import { RtpMediaBridge, type RtpMediaBridgeOptions } from '../../src/rtp/bridge.js';
import { DtmfReceiver, DtmfSender } from '../../src/rtp/dtmf.js';
import { generateTone, goertzelPower } from '../../src/rtp/goertzel.js';
import { getSharedScheduler } from '../../src/rtp/pacer.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { UdpPeer, resourceCounts, settled, sleep, until, type Received } from './udp-peer.js';

const PT: Record<G711Law, number> = { PCMU: 0, PCMA: 8 };

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function peer(): Promise<UdpPeer> {
  const p = await UdpPeer.open();
  cleanup.push(() => p.close());
  return p;
}

async function openBridge(opts: Partial<RtpMediaBridgeOptions> = {}): Promise<RtpMediaBridge> {
  const b = new RtpMediaBridge({
    bindIp: '127.0.0.1',
    noMediaTimeoutMs: 0,
    mediaTimeoutMs: 0,
    statsLogIntervalMs: 0,
    ...opts,
  });
  cleanup.push(() => b.close());
  await b.open();
  return b;
}

/** Collects copies of every played-out frame. */
function collect(b: RtpMediaBridge): Int16Array[] {
  const frames: Int16Array[] = [];
  b.on('audio', (f) => {
    expect(f.sampleRate).toBe(8000);
    expect(f.samples.length).toBe(160);
    frames.push(f.samples.slice());
  });
  return frames;
}

function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.length * 160);
  frames.forEach((f, i) => out.set(f, i * 160));
  return out;
}

/** Power at `freq` relative to the strongest of the probe frequencies. */
function dominance(samples: Int16Array, freq: number, probes: number[]): number {
  const p = goertzelPower(samples, 8000, freq);
  return p / Math.max(...probes.map((f) => goertzelPower(samples, 8000, f)), 1e-9);
}

/** Sends `packets` at absolute 20 ms deadlines (a well-behaved far end), or per `at`. */
async function stream(
  p: UdpPeer,
  port: number,
  packets: Array<{ bytes: Uint8Array; at?: number }>,
): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < packets.length; i++) {
    const pkt = packets[i]!;
    const due = t0 + (pkt.at ?? i * 20);
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await p.send(pkt.bytes, port);
  }
}

function rtp(
  pt: number,
  seq: number,
  ts: number,
  payload: Uint8Array,
  ssrc = 0x1234,
  marker = false,
): Uint8Array {
  const b = new Uint8Array(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  new DataView(b.buffer).setUint16(2, seq & 0xffff);
  new DataView(b.buffer).setUint32(4, ts >>> 0);
  new DataView(b.buffer).setUint32(8, ssrc >>> 0);
  b.set(payload, 12);
  return b;
}

/** Finds `expected` frames, in order, inside `played` (skipping concealed or idle frames). */
function matchInOrder(played: Int16Array[], expected: Int16Array[]): number {
  let j = 0;
  let matched = 0;
  for (const f of played) {
    for (let k = j; k < expected.length; k++) {
      if (expected[k]!.every((v, i) => v === f[i])) {
        matched++;
        j = k + 1;
        break;
      }
    }
  }
  return matched;
}

describe('RtpMediaBridge configuration', () => {
  it('refuses to exist without bindIp (BUG-4) and binds exactly the given IP', async () => {
    expect(() => new RtpMediaBridge({} as RtpMediaBridgeOptions)).toThrow(ConfigError);
    const b = await openBridge();
    expect(b.rtp.boundAddress?.address).toBe('127.0.0.1');
  });

  it('start() checks that codec and payload type agree', async () => {
    const b = await openBridge();
    expect(() =>
      b.start({ remoteAddress: '127.0.0.1', remotePort: 9, codec: 'PCMA', payloadType: 0 }),
    ).toThrow(ConfigError);
  });
});

describe.each(['PCMA', 'PCMU'] as const)('RtpMediaBridge with %s over loopback UDP', (law) => {
  const codec = new G711Codec(law);

  it('plays inbound audio: a 440 Hz tone from the far end is heard in `audio` events', async () => {
    const far = await peer();
    const b = await openBridge();
    const frames = collect(b);
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: law, payloadType: PT[law] });
    const tone = generateTone(440, 8000, 8000, 10000);
    const sent: Int16Array[] = [];
    const packets = [];
    for (let i = 0; i < 50; i++) {
      const payload = codec.encode(tone.subarray(i * 160, (i + 1) * 160));
      sent.push(codec.decode(payload));
      packets.push({ bytes: rtp(PT[law], 1000 + i, 5000 + i * 160, payload, 0xabc, i === 0) });
    }
    await stream(far, b.rtp.local.port, packets);
    await sleep(150);
    const st = b.stats();
    expect(st.packetsReceived).toBe(50);
    expect(st.lost).toBe(0);
    // every frame played is exactly the decoded packet, in order
    expect(matchInOrder(frames, sent)).toBeGreaterThanOrEqual(48);
    expect(dominance(concat(frames), 440, [300, 1000, 2000])).toBeGreaterThan(100);
  });

  it('sends outbound audio: writeAudio of a 48 kHz 1 kHz tone reaches the far end at 8 kHz, paced', async () => {
    const far = await peer();
    const b = await openBridge();
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: law, payloadType: PT[law] });
    await sleep(60); // some silence first: the audio must then start a talkspurt
    const tone = generateTone(1000, 48000, 48000 * 0.6, 8000);
    const t0 = performance.now();
    for (let off = 0, i = 0; off < tone.length; off += 480, i++) {
      // 40 ms ahead of real time, as a jitter-buffered source is: a writer delayed by a busy
      // machine must not starve the sender into a second talkspurt.
      const wait = t0 + (i - 4) * 10 - performance.now();
      if (wait > 0) await sleep(wait);
      b.writeAudio(tone.subarray(off, off + 480), 48000); // 10 ms chunks, like LiveKit
    }
    await sleep(200);
    const pkts = far.received.map((r: Received) => r.packet);
    expect(pkts.length).toBeGreaterThan(30);
    const first = pkts[0]!;
    for (let i = 1; i < pkts.length; i++) {
      const p = pkts[i]!;
      expect(p.payloadType).toBe(PT[law]);
      expect(p.ssrc).toBe(first.ssrc);
      expect(p.sequenceNumber).toBe((first.sequenceNumber + i) & 0xffff);
      expect(p.timestamp).toBe((first.timestamp + i * 160) >>> 0);
    }
    expect(first.marker).toBe(true); // first packet of the stream
    const silence = law === 'PCMU' ? 0xff : 0xd5;
    const isSilent = (p: { payload: Uint8Array }): boolean => p.payload.every((x) => x === silence);
    const firstAudio = pkts.findIndex((p) => !isSilent(p));
    expect(firstAudio).toBeGreaterThan(0);
    expect(pkts[firstAudio]!.marker).toBe(true); // talkspurt start
    expect(pkts.slice(firstAudio + 1).filter((p) => p.marker)).toHaveLength(0);
    const decoded = concat(pkts.filter((p) => !isSilent(p)).map((p) => codec.decode(p.payload)));
    expect(decoded.length).toBeGreaterThanOrEqual(8000 * 0.5);
    expect(dominance(decoded.subarray(800, 4000), 1000, [300, 440, 2000, 3000])).toBeGreaterThan(100);
    // paced: arrivals 20 ms apart on average
    const at = far.received.map((r) => r.at);
    const mean = (at.at(-1)! - at[0]!) / (at.length - 1);
    expect(mean).toBeGreaterThan(19.5);
    expect(mean).toBeLessThan(20.5);
  });
});

describe('RtpMediaBridge inbound robustness', () => {
  it('decodes by each packet’s payload type when the peer switches PCMA → PCMU mid-stream', async () => {
    const far = await peer();
    const b = await openBridge();
    const frames = collect(b);
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMA', payloadType: 8 });
    const pcma = new G711Codec('PCMA');
    const pcmu = new G711Codec('PCMU');
    const tone = generateTone(440, 8000, 8000, 10000);
    const expected: Int16Array[] = [];
    const packets = [];
    for (let i = 0; i < 50; i++) {
      const c = i < 25 ? pcma : pcmu;
      const payload = c.encode(tone.subarray(i * 160, (i + 1) * 160));
      expected.push(c.decode(payload));
      packets.push({ bytes: rtp(c.payloadType, 7 + i, i * 160, payload) });
    }
    await stream(far, b.rtp.local.port, packets);
    await sleep(150);
    expect(matchInOrder(frames, expected.slice(0, 25))).toBeGreaterThanOrEqual(24);
    expect(matchInOrder(frames, expected.slice(25))).toBeGreaterThanOrEqual(24);
    // decoding the PCMU half as PCMA would distort the tone: it stays pure
    expect(dominance(concat(frames), 440, [880, 1320, 2000])).toBeGreaterThan(100);
  });

  it('keeps order through reordering, drops duplicates and late packets, conceals losses', async () => {
    const far = await peer();
    const b = await openBridge({ jitterTargetMs: 60 });
    const frames = collect(b);
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMA', payloadType: 8 });
    const codec = new G711Codec('PCMA');
    const level = (k: number): number => 300 + 300 * k; // distinct, increasing per frame
    const pkt = (k: number): Uint8Array =>
      rtp(8, 40000 + k, k * 160, codec.encode(new Int16Array(160).fill(level(k))));
    const plan: Array<{ bytes: Uint8Array; at: number }> = [];
    for (let k = 0; k < 30; k++) {
      if (k === 10) continue; // lost
      if (k === 20) continue; // sent late, below
      const at = k === 2 ? 3 * 20 + 1 : k * 20; // 3 arrives before 2
      plan.push({ bytes: pkt(k), at });
      if (k === 6) plan.push({ bytes: pkt(6), at: 6 * 20 + 2 }); // duplicate
    }
    plan.push({ bytes: pkt(20), at: 20 * 20 + 250 }); // long after its playout time
    plan.sort((x, y) => x.at - y.at);
    await stream(far, b.rtp.local.port, plan);
    await sleep(200);
    const st = b.stats();
    expect(st.duplicate).toBe(1);
    expect(st.late).toBe(1);
    expect(st.lost).toBe(1); // seq 10; 20 arrived (late), so RFC 3550 counts it received
    expect(st.framesConcealed).toBeGreaterThanOrEqual(2); // 10 and 20
    // the frames carrying audio come out in sequence order, each exactly once
    const good = Array.from({ length: 30 }, (_, k) => k)
      .filter((k) => k !== 10 && k !== 20)
      .map((k) => codec.decode(codec.encode(new Int16Array(1).fill(level(k))))[0]!);
    const played = frames.map((f) => f[0]!).filter((v) => good.includes(v));
    expect(played).toEqual(good);
  });

  it('drops a stranger’s audio after latching; the tone heard is only the real peer’s', async () => {
    const real = await peer();
    const sdp = await peer(); // the SDP port; the peer actually sends from `real`
    const stranger = await peer();
    const b = await openBridge();
    const frames = collect(b);
    b.start({ remoteAddress: '127.0.0.1', remotePort: sdp.port, codec: 'PCMU', payloadType: 0 });
    await sdp.until(() => sdp.received.length >= 2, 2000, 'silence at the SDP port before latching');
    const codec = new G711Codec('PCMU');
    const a = generateTone(440, 8000, 8000, 10000);
    const c = generateTone(1000, 8000, 8000, 10000);
    const mine = [];
    const theirs = [];
    for (let i = 0; i < 40; i++) {
      mine.push({ bytes: rtp(0, 100 + i, i * 160, codec.encode(a.subarray(i * 160, (i + 1) * 160)), 1) });
      theirs.push({
        bytes: rtp(0, 900 + i, i * 160, codec.encode(c.subarray(i * 160, (i + 1) * 160)), 2),
        at: i * 20 + 5,
      });
    }
    const latched = new Promise((r) => b.once('firstPacket', r));
    await real.send(mine[0]!.bytes, b.rtp.local.port);
    expect(await latched).toEqual({ address: '127.0.0.1', port: real.port, payloadType: 0 });
    const sdpCount = sdp.received.length;
    await Promise.all([
      stream(real, b.rtp.local.port, mine.slice(1)),
      stream(stranger, b.rtp.local.port, theirs),
    ]);
    await sleep(150);
    expect(b.stats().strangers).toBe(40);
    expect(dominance(concat(frames), 440, [1000])).toBeGreaterThan(1000);
    // our packets now go to the real source port, no longer to the SDP port
    expect(real.received.length).toBeGreaterThan(30);
    expect(sdp.received.length).toBeLessThanOrEqual(sdpCount + 1);
    expect(stranger.received).toHaveLength(0);
  });
});

describe('RtpMediaBridge DTMF (RFC 4733)', () => {
  it('sendDtmf("123#") reaches a far-end receiver as four digits, audio timestamps continue', async () => {
    const far = await peer();
    const b = await openBridge({ dtmfDurationMs: 60, dtmfGapMs: 40 });
    b.start({
      remoteAddress: '127.0.0.1',
      remotePort: far.port,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
    });
    await b.sendDtmf('123#');
    await sleep(80);
    const pkts = far.received.map((r) => r.packet);
    const rx = new DtmfReceiver();
    const digits: string[] = [];
    for (const p of pkts) {
      if (p.payloadType !== 101) continue;
      const d = rx.push(p.timestamp, p.payload);
      if (d !== null) digits.push(d);
    }
    expect(digits).toEqual(['1', '2', '3', '#']);
    // one timestamp per event, marker on its first packet
    const events = new Map<number, typeof pkts>();
    for (const p of pkts.filter((q) => q.payloadType === 101))
      events.set(p.timestamp, [...(events.get(p.timestamp) ?? []), p]);
    expect(events.size).toBe(4);
    for (const evPkts of events.values()) {
      expect(evPkts[0]!.marker).toBe(true);
      expect(evPkts.slice(1).every((p) => !p.marker)).toBe(true);
      expect(evPkts.slice(-3).every((p) => (p.payload[1]! & 0x80) !== 0)).toBe(true); // three end packets
    }
    // sequence numbers continuous over audio and events; audio timestamps on the 160 grid
    const first = pkts[0]!;
    pkts.forEach((p, i) => expect(p.sequenceNumber).toBe((first.sequenceNumber + i) & 0xffff));
    const audio = pkts.map((p, i) => [p, i] as const).filter(([p]) => p.payloadType === 8);
    for (const [p, i] of audio) expect(p.timestamp).toBe((first.timestamp + 160 * i) >>> 0);
  });

  it('emits one `dtmf` event per digit received, ignoring repeated end packets', async () => {
    const far = await peer();
    const b = await openBridge();
    b.start({
      remoteAddress: '127.0.0.1',
      remotePort: far.port,
      codec: 'PCMU',
      payloadType: 0,
      telephoneEventPayloadType: 101,
    });
    const got: string[] = [];
    b.on('dtmf', (e) => got.push(e.digit));
    const sender = new DtmfSender({ durationMs: 80, gapMs: 40 });
    sender.enqueue('59');
    const packets: Array<{ bytes: Uint8Array }> = [];
    let ts = 80000;
    let evTs = ts;
    let seq = 1;
    for (let tick = 0; tick < 40; tick++, ts += 160) {
      const p = sender.nextPacket();
      if (p === null) {
        packets.push({ bytes: rtp(0, seq++, ts, new Uint8Array(160).fill(0xff)) });
        continue;
      }
      if (p.marker) evTs = ts;
      packets.push({ bytes: rtp(101, seq++, evTs, p.payload, 0x1234, p.marker) });
    }
    await stream(far, b.rtp.local.port, packets);
    await sleep(100);
    expect(got).toEqual(['5', '9']);
  });
});

describe('RtpMediaBridge lifecycle', () => {
  it('bounds the outbound queue: a 1 s burst keeps at most 200 ms and counts the rest', async () => {
    const far = await peer();
    const b = await openBridge({ maxOutboundQueueMs: 200 });
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMA', payloadType: 8 });
    b.writeAudio(generateTone(440, 16000, 16000, 5000), 16000);
    const out = b.stats().outbound!;
    expect(out.queuedSamples).toBeLessThanOrEqual(1600);
    expect(out.overflowSamples).toBeGreaterThanOrEqual(8000 - 1600 - 16);
  });

  it('logs the three [RTP] log points, and never per packet', async () => {
    const logger = createMemoryLogger();
    const far = await peer();
    const b = await openBridge({ logger, statsLogIntervalMs: 300 });
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMU', payloadType: 0 });
    const pkts = Array.from({ length: 30 }, (_, i) => ({
      bytes: rtp(0, i, i * 160, new Uint8Array(160).fill(0xff)),
    }));
    await stream(far, b.rtp.local.port, pkts);
    await sleep(350);
    const msgs = logger.records.map((r) => r.msg);
    expect(msgs).toContain(`[RTP] Bridge started. Listening on 127.0.0.1:${b.rtp.local.port}`);
    expect(msgs).toContain(`[RTP] First packet received from 127.0.0.1:${far.port}`);
    expect(msgs.some((m) => /^\[RTP\] Audio flowing: \d+ packets received, \d+ sent$/.test(m))).toBe(true);
    expect(logger.records.length).toBeLessThan(10); // 30 packets in, ~50 out: nothing per packet
  });

  it('forwards the media timeout (fake clock)', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await openBridge({ clock, noMediaTimeoutMs: 100 });
    const fired: Error[] = [];
    b.on('timeout', (e) => fired.push(e));
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMU', payloadType: 0 });
    clock.advance(99);
    expect(fired).toHaveLength(0);
    clock.advance(1);
    expect(fired.map((e) => e.name)).toEqual(['RtpTimeoutError']);
  });

  it('logs "Audio flowing" once per statsLogIntervalMs on its clock, and stops at close', async () => {
    const clock = new FakeTimerClock(0);
    const logger = createMemoryLogger();
    const far = await peer();
    const b = await openBridge({ clock, logger, statsLogIntervalMs: 1000 });
    b.start({ remoteAddress: '127.0.0.1', remotePort: far.port, codec: 'PCMU', payloadType: 0 });
    const flowing = (): number =>
      logger.records.filter((r) => r.msg.startsWith('[RTP] Audio flowing')).length;
    clock.advance(999);
    expect(flowing()).toBe(0);
    clock.advance(1);
    expect(flowing()).toBe(1);
    clock.advance(2000);
    expect(flowing()).toBe(3);
    // the bridge paces on a scheduler of its own on this clock: one packet per 20 ms, first at 0
    expect(b.stats().packetsSent).toBe(3000 / 20 + 1);
    await b.close();
    expect(clock.pending).toBe(0); // no stats timer, no pacing timer left
    clock.advance(5000);
    expect(flowing()).toBe(3);
  });

  it('close() is idempotent and leaves no socket, timer or pacer registration behind', async () => {
    const before = await settled();
    const far = await peer();
    const withPeer = await settled();
    const b = new RtpMediaBridge({ bindIp: '127.0.0.1', statsLogIntervalMs: 1000 });
    let closes = 0;
    b.on('close', () => closes++);
    await b.open();
    b.start({
      remoteAddress: '127.0.0.1',
      remotePort: far.port,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
    });
    const dtmf = b.sendDtmf('1');
    b.writeAudio(generateTone(440, 8000, 800, 5000), 8000);
    await stream(far, b.rtp.local.port, [{ bytes: rtp(8, 1, 0, new Uint8Array(160).fill(0xd5)) }]);
    await far.until(() => far.received.length > 3);
    const during = resourceCounts();
    expect(during.udp - withPeer.udp).toBe(2);
    expect(getSharedScheduler().size).toBe(1);
    await Promise.all([b.close(), b.close()]);
    await b.close();
    expect(closes).toBe(1);
    await expect(dtmf).rejects.toThrow(/closed/);
    expect(() => b.writeAudio(new Int16Array(160), 8000)).not.toThrow(); // late frames are ignored
    await expect(b.sendDtmf('1')).rejects.toThrow(/closed/);
    expect(getSharedScheduler().size).toBe(0);
    expect(getSharedScheduler().armed).toBe(false);
    const after = await settled();
    expect(after.udp).toBe(withPeer.udp);
    expect(during.timeout - after.timeout).toBe(2); // the media-timeout watch and the stats-log interval
    expect(after.immediate).toBe(0);
    await far.close();
    await until(() => resourceCounts().udp === before.udp, 1000, 'peer closed');
  });

  it('an AbortSignal closes the bridge', async () => {
    const ac = new AbortController();
    const b = await openBridge({ signal: ac.signal });
    const closed = new Promise<void>((r) => b.once('close', r));
    ac.abort();
    await closed;
    expect(b.state).toBe('closed');
  });
});
