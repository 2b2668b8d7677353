/**
 * Hostile RTP/RTCP input over real UDP sockets: malformed packets, impossible CSRC counts
 * and extension lengths, bogus RTCP on both ports, random garbage and a stranger's flood.
 * Every bad datagram is a counted drop; the real peer's audio keeps playing; nothing is
 * thrown, emitted as an error or left open.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { G711Codec } from '../../src/codec/g711.js';
import { RtpMediaBridge } from '../../src/rtp/bridge.js';
import { generateTone, goertzelPower } from '../../src/rtp/goertzel.js';
import { expectLibraryHoldsNothing } from '../harness/resources.js';
import { UdpPeer, settled, sleep } from './udp-peer.js';

let cleanup: Array<() => Promise<void> | void> = [];
// every case ends with the library holding nothing: RTP/RTCP sockets, pacer
// registrations and timers all released by close()
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
  await expectLibraryHoldsNothing();
});

function header(b0: number, b1: number, seq: number, ts: number, ssrc: number, len: number): Uint8Array {
  const b = new Uint8Array(Math.max(len, 12));
  b[0] = b0;
  b[1] = b1;
  const v = new DataView(b.buffer);
  v.setUint16(2, seq & 0xffff);
  v.setUint32(4, ts >>> 0);
  v.setUint32(8, ssrc >>> 0);
  return b.subarray(0, len);
}

/** One of each kind of malformed datagram, as a far end or an attacker could send. */
function hostileDatagrams(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  out.push({ name: 'empty', bytes: new Uint8Array(0) });
  out.push({ name: 'one byte', bytes: new Uint8Array([0x80]) });
  out.push({ name: '11 bytes', bytes: header(0x80, 0, 1, 0, 1, 11) });
  for (const version of [0, 1, 3]) {
    out.push({ name: `version ${version}`, bytes: header(version << 6, 0, 1, 0, 1, 172) });
  }
  // CC = 15 promises 60 bytes of CSRCs that are not there.
  out.push({ name: 'CSRC count 15, 12 bytes', bytes: header(0x8f, 0, 1, 0, 1, 12) });
  out.push({ name: 'CSRC count 15, 40 bytes', bytes: header(0x8f, 0, 1, 0, 1, 40) });
  // X bit with an extension length of 65535 words (262 140 bytes) in a 20-byte datagram.
  const ext = header(0x90, 0, 1, 0, 1, 20);
  ext[12] = 0xbe;
  ext[13] = 0xde;
  ext[14] = 0xff;
  ext[15] = 0xff;
  out.push({ name: 'extension length 65535', bytes: ext });
  // CC 15 and X together, both overrunning.
  const both = header(0x9f, 0, 1, 0, 1, 80);
  both[12 + 60 + 2] = 0xff;
  both[12 + 60 + 3] = 0xff;
  out.push({ name: 'CSRC 15 + extension overrun', bytes: both });
  // P bit with a padding count larger than the payload.
  const pad = header(0xa0, 0, 1, 0, 1, 20);
  pad[19] = 200;
  out.push({ name: 'padding 200 in 8 bytes', bytes: pad });
  const zeroPad = header(0xa0, 0, 1, 0, 1, 20);
  zeroPad[19] = 0;
  out.push({ name: 'padding count 0', bytes: zeroPad });
  // RTCP-looking packets multiplexed on the RTP port, malformed and well-formed.
  const rtcpBad = new Uint8Array(8);
  rtcpBad[0] = 0x81;
  rtcpBad[1] = 200; // SR
  rtcpBad[2] = 0xff;
  rtcpBad[3] = 0xff; // length far past the end
  out.push({ name: 'RTCP SR with length 65535', bytes: rtcpBad });
  const rtcpBye = new Uint8Array(8);
  rtcpBye[0] = 0x81;
  rtcpBye[1] = 203;
  rtcpBye[3] = 1;
  out.push({ name: 'RTCP BYE', bytes: rtcpBye });
  out.push({ name: 'a full-size datagram of 0xff', bytes: new Uint8Array(1472).fill(0xff) });
  return out;
}

describe('hostile RTP input', () => {
  it('every malformed datagram is a counted drop; the real audio keeps playing; no error', async () => {
    const real = await UdpPeer.open();
    const attacker = await UdpPeer.open();
    cleanup.push(
      () => real.close(),
      () => attacker.close(),
    );
    const before = await settled();
    const b = new RtpMediaBridge({
      bindIp: '127.0.0.1',
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
    });
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    const heard: Int16Array[] = [];
    b.on('audio', (f) => heard.push(f.samples.slice()));
    await b.open();
    b.start({ remoteAddress: '127.0.0.1', remotePort: real.port, codec: 'PCMA', payloadType: 8 });
    const port = b.rtp.local.port;
    const codec = new G711Codec('PCMA');
    const tone = generateTone(440, 8000, 16000, 9000);
    const hostile = hostileDatagrams();

    // The real peer sends 2 s of 440 Hz; the same malformed set comes from the real peer's
    // own address (after latching) and from an attacker, between every audio packet.
    const t0 = performance.now();
    let sentHostile = 0;
    for (let i = 0; i < 100; i++) {
      const pkt = header(0x80, 8, 1000 + i, i * 160, 0xabc, 12 + 160);
      pkt.set(codec.encode(tone.subarray(i * 160, (i + 1) * 160)), 12);
      await real.send(pkt, port);
      const h = hostile[i % hostile.length]!;
      await real.send(h.bytes, port);
      await attacker.send(h.bytes, port);
      await attacker.send(randomBytes(1 + (i % 200)), port);
      await attacker.send(h.bytes, port + 1); // the RTCP port
      sentHostile += 4;
      const wait = t0 + (i + 1) * 20 - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await sleep(200);
    const s = b.stats();
    expect(errors).toEqual([]);
    expect(s.packetsReceived).toBe(100);
    expect(s.lost).toBe(0);
    // The attacker's datagrams (any content) are strangers; the peer's own malformed ones
    // are malformed or RTCP; nothing reached the decoder.
    expect(sentHostile).toBe(400);
    expect(s.strangers).toBe(200);
    const dropped = s.strangers + s.malformed + s.rtcpReceived + s.unknownPayloadType + s.seqJumps;
    expect(dropped, JSON.stringify(s)).toBe(400);
    const loud = heard.filter((f) => f.some((v) => Math.abs(v) > 1000));
    expect(loud.length).toBeGreaterThan(80);
    const all = new Int16Array(loud.length * 160);
    loud.forEach((f, i) => all.set(f, i * 160));
    expect(goertzelPower(all, 8000, 440)).toBeGreaterThan(100 * goertzelPower(all, 8000, 1000));

    await b.close();
    const after = await settled();
    expect(after.udp).toBe(before.udp);
    expect(after.timeout).toBeLessThanOrEqual(before.timeout);
  });

  it('a 10 000-datagram flood from a stranger is dropped and counted, in bounded memory', async () => {
    const real = await UdpPeer.open();
    const attacker = await UdpPeer.open();
    cleanup.push(
      () => real.close(),
      () => attacker.close(),
    );
    const b = new RtpMediaBridge({
      bindIp: '127.0.0.1',
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
    });
    cleanup.push(() => b.close());
    await b.open();
    b.start({ remoteAddress: '127.0.0.1', remotePort: real.port, codec: 'PCMU', payloadType: 0 });
    const port = b.rtp.local.port;
    const first = header(0x80, 0, 1, 0, 7, 172);
    await real.send(first, port);
    await real.until(() => b.stats().packetsReceived === 1, 2000, 'latched');
    const heapBefore = process.memoryUsage().heapUsed;
    const valid = header(0x80, 0, 5, 800, 9, 172); // valid RTP, wrong source
    const garbage = randomBytes(64);
    for (let i = 0; i < 10_000; i++) {
      await attacker.send(i % 2 === 0 ? valid : garbage, port);
      // Sender and receiver share this process: let the receiver drain its socket buffer.
      if (i % 32 === 31) await sleep(1);
    }
    await sleep(200);
    const s = b.stats();
    // The kernel may drop a few datagrams of a flood; every one that arrived was counted.
    expect(s.strangers, JSON.stringify(s)).toBeGreaterThan(9_500);
    expect(s.packetsReceived).toBe(1);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 2 ** 20);
  });
});
