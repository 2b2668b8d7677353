/**
 * The media side of call control from the room: quality as data (stats event, loss, MOS),
 * hold (setDirection), DTMF dial strings with pauses and the outbound audio tap. Every
 * timer runs on a fake clock; the sockets are real (loopback).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { G711Codec } from '../../src/codec/g711.js';
import { ConfigError } from '../../src/errors.js';
import {
  RtpMediaBridge,
  type RtpMediaBridgeOptions,
  type RtpMediaBridgeStats,
} from '../../src/rtp/bridge.js';
import { DtmfReceiver } from '../../src/rtp/dtmf.js';
import { generateTone } from '../../src/rtp/goertzel.js';
import { RtpSession } from '../../src/rtp/session.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { UdpPeer, rtpBytes, sleep, until } from './udp-peer.js';

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

async function started(
  clock: FakeTimerClock,
  far: UdpPeer,
  opts: Partial<RtpMediaBridgeOptions> = {},
): Promise<RtpMediaBridge> {
  const b = new RtpMediaBridge({
    bindIp: '127.0.0.1',
    noMediaTimeoutMs: 0,
    mediaTimeoutMs: 0,
    statsLogIntervalMs: 0,
    clock,
    ...opts,
  });
  cleanup.push(() => b.close());
  await b.open();
  b.start({
    remoteAddress: '127.0.0.1',
    remotePort: far.port,
    codec: 'PCMU',
    payloadType: 0,
    telephoneEventPayloadType: 101,
  });
  return b;
}

const silence = new Uint8Array(160).fill(0xff);
const rtpOf = (seq: number, ssrc = 0x77): Buffer =>
  rtpBytes({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc }, silence);
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('quality as data', () => {
  it('a known loss pattern: 1 packet in 10 lost → interval loss 0.1 and MOS 3.2–3.5; a clean interval after → MOS ≥ 4.3', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far, { statsIntervalMs: 1000 });
    const events: RtpMediaBridgeStats[] = [];
    b.on('stats', (s) => events.push(s));
    for (let seq = 0; seq < 50; seq++) if (seq % 10 !== 5) await far.send(rtpOf(seq), b.rtp.local.port);
    await until(() => b.stats().packetsReceived === 45);
    clock.advance(1000);
    expect(events).toHaveLength(1);
    const first = events[0]!;
    expect(first.expected).toBe(50);
    expect(first.lost).toBe(5);
    expect(first.intervalLossFraction).toBeCloseTo(0.1, 10);
    expect(first.rttMs).toBeUndefined(); // no RTCP from this far end
    expect(first.oneWayDelayMs).toBe(0 / 2 + 40 + 20);
    // R = 93.2 − 0.024·60 − 95·10/(10 + 25.1) = 64.69 → MOS 3.34
    expect(first.rFactor).toBeCloseTo(64.69, 1);
    expect(first.mos).toBeGreaterThan(3.2);
    expect(first.mos).toBeLessThan(3.5);

    for (let seq = 50; seq < 100; seq++) await far.send(rtpOf(seq), b.rtp.local.port);
    await until(() => b.stats().packetsReceived === 95);
    clock.advance(1000);
    expect(events).toHaveLength(2);
    const second = events[1]!;
    expect(second.intervalLossFraction).toBe(0);
    expect(second.lossFraction).toBeCloseTo(0.05, 10); // cumulative
    expect(second.mos).toBeGreaterThanOrEqual(4.3);
    expect(b.stats().packetsSent).toBe(2000 / 20 + 1); // the pacer on the same clock, from t = 0
    expect(b.stats().bytesSent).toBe(b.stats().packetsSent * 172);
    expect(second.bytesReceived).toBe(95 * 172);
    expect(second.direction).toBe('sendrecv');
    await b.close();
    clock.advance(10_000);
    expect(events).toHaveLength(2); // no event after close
  });

  it('interarrival jitter matches RFC 3550 A.8 on a crafted arrival sequence', async () => {
    const clock = new FakeTimerClock(0);
    const s = new RtpSession({
      bindIp: '127.0.0.1',
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      rtcp: false,
      clock,
    });
    cleanup.push(() => s.close());
    await s.open();
    const far = await peer();
    s.setRemote({ address: '127.0.0.1', port: far.port, payloadType: 0 });
    // sent every 20 ms (timestamps 160 apart), arriving at 0, 20, 45, 60, 80 ms
    const arrivals = [0, 20, 45, 60, 80];
    let expectedJ = 0;
    for (let i = 0; i < arrivals.length; i++) {
      clock.set(arrivals[i]!);
      await far.send(rtpOf(i), s.local.port);
      await until(() => s.stats().packetsReceived === i + 1);
      if (i > 0) {
        const d = Math.abs((arrivals[i]! - arrivals[i - 1]!) * 8 - 160); // D(i−1, i) in timestamp units
        expectedJ += (d - expectedJ) / 16;
      }
    }
    // J: 0, 40/16 = 2.5, 2.5 + (40 − 2.5)/16 = 4.84375, 4.84375 − 4.84375/16 = 4.541015625
    expect(expectedJ).toBe(4.541015625);
    expect(s.stats().jitter).toBeCloseTo(expectedJ, 10);
    expect(s.stats().jitterMs).toBeCloseTo(expectedJ / 8, 10);
  });
});

describe('hold: setDirection (our side’s point of view)', () => {
  it('inactive for 60 s: no timeout and no RTP sent; back to sendrecv: a fresh grace period, then the timeout', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far, { noMediaTimeoutMs: 1000, mediaTimeoutMs: 500 });
    const timeouts: number[] = [];
    b.on('timeout', () => timeouts.push(clock.now()));
    b.setDirection('inactive');
    expect(b.direction).toBe('inactive');
    clock.advance(60_000);
    await sleep(30);
    expect(timeouts).toEqual([]);
    expect(b.stats().packetsSent).toBe(0);
    expect(far.received).toHaveLength(0);
    expect(b.stats().outbound?.heldPeriods).toBe(60_000 / 20 + 1);
    b.setDirection('sendrecv');
    clock.advance(999);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual([61_000]);
    await until(() => far.received.length > 10); // sending resumed
  });

  it('sendonly (the far end does not send) suspends the timeout but keeps sending', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far, { noMediaTimeoutMs: 1000 });
    const timeouts: number[] = [];
    b.on('timeout', () => timeouts.push(clock.now()));
    b.setDirection('sendonly');
    clock.advance(60_000);
    expect(timeouts).toEqual([]);
    expect(b.stats().packetsSent).toBe(60_000 / 20 + 1);
    expect(() => b.setDirection('hold' as unknown as 'inactive')).toThrow(ConfigError);
  });

  it('recvonly: no packets while held; afterwards the sequence continues and the timestamp jumped by the hold', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far);
    clock.advance(100); // 6 packets: t = 0, 20, ... 100
    await until(() => far.received.length === 6);
    b.setDirection('recvonly');
    b.writeAudio(generateTone(440, 8000, 1600, 3000), 8000); // 200 ms, discarded: nobody can hear it
    clock.advance(1000);
    await sleep(30);
    expect(far.received).toHaveLength(6);
    b.setDirection('sendrecv');
    clock.advance(40);
    await until(() => far.received.length === 8);
    const before = far.received[5]!.packet;
    const after = far.received[6]!.packet;
    expect(after.sequenceNumber).toBe((before.sequenceNumber + 1) & 0xffff);
    expect((after.timestamp - before.timestamp) >>> 0).toBe(160 * (1 + 1000 / 20));
    expect(b.stats().outbound?.heldPeriods).toBe(1000 / 20);
    expect(b.stats().outbound?.heldDiscardedSamples).toBe(1600);
    expect(b.stats().outbound?.audioPackets).toBe(0);
  });
});

describe('sendDtmf dial strings', () => {
  function events(far: UdpPeer): Array<{ digit: string; timestamp: number }> {
    const rx = new DtmfReceiver();
    const out: Array<{ digit: string; timestamp: number }> = [];
    for (const r of far.received) {
      if (r.packet.payloadType !== 101) continue;
      const d = rx.push(r.packet.timestamp, r.packet.payload);
      if (d !== null) out.push({ digit: d, timestamp: r.packet.timestamp });
    }
    return out;
  }

  it("'1234#w5': every digit in order, the 0.5 s pause visible in the RTP timestamps", async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far); // 100 ms digits, 100 ms gaps
    const sent = b.sendDtmf('1234#w5');
    clock.advance(3000);
    await sent;
    await until(() => events(far).length === 6);
    const ev = events(far);
    expect(ev.map((e) => e.digit)).toEqual(['1', '2', '3', '4', '#', '5']);
    // one digit = 7 packet periods (5 growing + 2 more end packets), then 5 periods of gap
    const steps = ev.slice(1).map((e, i) => ((e.timestamp - ev[i]!.timestamp) >>> 0) / 160);
    expect(steps).toEqual([12, 12, 12, 12, 12 + 500 / 20]);
  });

  it("'W' pauses 1 s; a trailing pause resolves only once it elapsed", async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far);
    let done = false;
    void b.sendDtmf('1W').then(() => (done = true));
    const next = b.sendDtmf('2'); // queued behind the pause
    clock.advance(12 * 20 + 40 * 20); // the 1, its gap, and 40 of the 50 pause periods
    await flush();
    expect(done).toBe(false);
    clock.advance(20 * 20);
    await flush();
    expect(done).toBe(true);
    clock.advance(1000);
    await next;
    await until(() => events(far).length === 2);
    const [one, two] = events(far);
    expect(((two!.timestamp - one!.timestamp) >>> 0) / 160).toBe(12 + 1000 / 20);
  });

  it('an invalid character rejects with ConfigError before anything is sent; the old single-digit call works', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far);
    await expect(b.sendDtmf('12x4')).rejects.toBeInstanceOf(ConfigError);
    await expect(b.sendDtmf('1,2')).rejects.toBeInstanceOf(ConfigError);
    clock.advance(1000);
    await until(() => far.received.length === 51);
    expect(far.received.some((r) => r.packet.payloadType === 101)).toBe(false);
    const one = b.sendDtmf('7');
    clock.advance(500);
    await one;
    await until(() => events(far).length === 1);
    expect(events(far)[0]!.digit).toBe('7');
  });
});

describe('outbound audio tap', () => {
  it('emits the 8 kHz PCM of each packet sent, only to listeners, zeros for silence, nothing on hold', async () => {
    const clock = new FakeTimerClock(0);
    const far = await peer();
    const b = await started(clock, far);
    const tapped: Int16Array[] = [];
    b.writeAudio(generateTone(440, 8000, 800, 4000), 8000); // 5 frames
    b.on('outboundAudio', (f) => {
      expect(f.sampleRate).toBe(8000);
      tapped.push(f.samples.slice());
    });
    clock.advance(180); // 10 packets: 5 of audio, 5 of silence
    await until(() => far.received.length === 10);
    expect(tapped).toHaveLength(10);
    const pcmu = new G711Codec('PCMU');
    for (let i = 0; i < 10; i++) {
      expect(Buffer.from(pcmu.encode(tapped[i]!))).toEqual(Buffer.from(far.received[i]!.packet.payload));
    }
    expect(tapped.slice(5).every((f) => f.every((v) => v === 0))).toBe(true);
    expect(tapped[0]!.some((v) => v !== 0)).toBe(true);
    b.setDirection('recvonly');
    clock.advance(200);
    expect(tapped).toHaveLength(10);
  });
});
