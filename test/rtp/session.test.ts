import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, RtpBindError, RtpTimeoutError } from '../../src/errors.js';
import { encodeTelephoneEvent } from '../../src/rtp/dtmf.js';
import { bindRtpPorts, closeSocket } from '../../src/rtp/port.js';
import { RtpSession, type RtpAudioPacket, type RtpSessionOptions } from '../../src/rtp/session.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { UdpPeer, rtpBytes, settled, sleep, until, resourceCounts } from './udp-peer.js';

const ours = (seq: number): Buffer =>
  rtpBytes({ payloadType: 8, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x5eed }, payload());

const payload = (n = 160, v = 0xd5): Uint8Array => new Uint8Array(n).fill(v);

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

async function session(opts: Partial<RtpSessionOptions> = {}): Promise<RtpSession> {
  const s = new RtpSession({ bindIp: '127.0.0.1', noMediaTimeoutMs: 0, mediaTimeoutMs: 0, ...opts });
  cleanup.push(() => s.close());
  await s.open();
  return s;
}

/** Finds 4 consecutive free UDP ports starting at an even one, for range tests. */
async function freeBlock(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = 40000 + 4 * Math.floor(Math.random() * 5000);
    const socks: Socket[] = [];
    let ok = true;
    for (let p = base; p < base + 4 && ok; p++) {
      const s = createSocket('udp4');
      ok = await new Promise<boolean>((r) => {
        s.once('error', () => r(false));
        s.bind(p, '127.0.0.1', () => r(true));
      });
      socks.push(s);
    }
    await Promise.all(socks.map((s) => closeSocket(s)));
    if (ok) return base;
  }
  throw new Error('no free port block');
}

describe('RtpSession binding (BUG-4: never the wildcard by default)', () => {
  it('requires bindIp: constructing without it is a ConfigError', () => {
    expect(() => new RtpSession({} as RtpSessionOptions)).toThrow(ConfigError);
    expect(() => new RtpSession({ bindIp: 'localhost' })).toThrow(/bindIp must be an IP address/);
    expect(() => new RtpSession({ bindIp: '127.0.0.1', portRange: [20001, 20001] })).toThrow(ConfigError);
  });

  it('binds exactly the configured IP, on an even port in the range, with RTCP on port+1', async () => {
    const s = await session({ portRange: [30000, 39999] });
    const bound = s.boundAddress!;
    expect(bound.address).toBe('127.0.0.1');
    expect(bound.port % 2).toBe(0);
    expect(bound.port).toBeGreaterThanOrEqual(30000);
    expect(bound.port).toBeLessThan(39999);
    expect(s.local).toEqual({ ip: '127.0.0.1', port: bound.port });
    // RTCP holds port+1: binding it again fails
    await expect(bindRtpPorts({ bindIp: '127.0.0.1', port: bound.port + 1, rtcp: false })).rejects.toThrow(
      RtpBindError,
    );
  });

  it('advertises advertisedIp in SDP but binds bindIp', async () => {
    const s = await session({ advertisedIp: '203.0.113.7' });
    expect(s.local.ip).toBe('203.0.113.7');
    expect(s.boundAddress!.address).toBe('127.0.0.1');
  });

  it('binds the wildcard only when asked to', async () => {
    const s = await session({ bindIp: '0.0.0.0' });
    expect(s.boundAddress!.address).toBe('0.0.0.0');
  });

  it('skips a port in use (EADDRINUSE → next even port) and fails when the range is full', async () => {
    const base = await freeBlock();
    const blocker = createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(base, '127.0.0.1', () => r()));
    cleanup.push(() => closeSocket(blocker));
    const s = await session({ portRange: [base, base + 3] });
    expect(s.local.port).toBe(base + 2);
    await expect(session({ portRange: [base, base + 3] })).rejects.toThrow(RtpBindError);
  });

  it('binds an explicit port, or fails with RtpBindError when it is taken', async () => {
    const base = await freeBlock();
    const s = await session({ port: base });
    expect(s.local.port).toBe(base);
    await expect(session({ port: base })).rejects.toThrow(RtpBindError);
  });
});

describe('RtpSession symmetric RTP latching', () => {
  it('sends to the SDP address until the first valid packet, then to its real source', async () => {
    const s = await session();
    const sdpPeer = await peer(); // the address the SDP named
    const real = await peer(); // where the peer really sends from (another port: NAT)
    const stranger = await peer();
    s.setRemote({ address: '127.0.0.1', port: sdpPeer.port, payloadType: 8 });

    expect(s.send(ours(1))).toBe(true);
    await sdpPeer.until(() => sdpPeer.received.length === 1, 2000, 'packet at the SDP address');

    // invalid packets do not latch: garbage, then an unknown payload type
    await real.send(new Uint8Array([1, 2, 3]), s.local.port);
    await real.sendRtp(
      s.local.port,
      { payloadType: 18, sequenceNumber: 1, timestamp: 0, ssrc: 7 },
      payload(20),
    );
    await sleep(30);
    expect(s.isLatched).toBe(false);
    expect(s.stats().malformed).toBe(1);
    expect(s.stats().unknownPayloadType).toBe(1);

    const first = new Promise((r) => s.once('firstPacket', r));
    await real.sendRtp(
      s.local.port,
      { payloadType: 8, sequenceNumber: 10, timestamp: 1600, ssrc: 7 },
      payload(),
    );
    expect(await first).toEqual({ address: '127.0.0.1', port: real.port, payloadType: 8 });
    expect(s.target).toEqual({ address: '127.0.0.1', port: real.port });

    s.send(ours(2));
    await real.until(() => real.received.length === 1, 2000, 'packet at the latched source');
    expect(sdpPeer.received).toHaveLength(1);

    // after latching, another source is dropped and counted, and never reaches listeners
    const audio: number[] = [];
    s.on('audio', (p) => audio.push(p.sequenceNumber));
    for (let i = 0; i < 5; i++) {
      await stranger.sendRtp(
        s.local.port,
        { payloadType: 8, sequenceNumber: 500 + i, timestamp: 0, ssrc: 99 },
        payload(),
      );
    }
    await real.sendRtp(
      s.local.port,
      { payloadType: 8, sequenceNumber: 11, timestamp: 1760, ssrc: 7 },
      payload(),
    );
    await until(() => audio.length === 1);
    expect(audio).toEqual([11]);
    expect(s.stats().strangers).toBe(5);
    expect(s.stats().packetsReceived).toBe(2);
  });

  it('counts packets that arrive before any remote was set as strangers', async () => {
    const s = await session();
    const p = await peer();
    await p.sendRtp(s.local.port, { payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1 }, payload());
    await until(() => s.stats().strangers === 1);
    expect(s.isLatched).toBe(false);
  });

  it('re-latches when a re-INVITE moves the remote', async () => {
    const s = await session();
    const a = await peer();
    const b = await peer();
    s.setRemote({ address: '127.0.0.1', port: a.port, payloadType: 0 });
    await a.sendRtp(s.local.port, { payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1 }, payload());
    await until(() => s.isLatched);
    s.setRemote({ address: '127.0.0.1', port: b.port, payloadType: 0 });
    expect(s.isLatched).toBe(false);
    expect(s.target).toEqual({ address: '127.0.0.1', port: b.port });
    await b.sendRtp(s.local.port, { payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 2 }, payload());
    await until(() => s.isLatched);
    expect(s.target).toEqual({ address: '127.0.0.1', port: b.port });
  });
});

describe('RtpSession payload-type routing (BUG-5: decode by the packet, not the negotiation)', () => {
  it('passes PCMU and PCMA through with their own payload type, DTMF to dtmf, drops the rest', async () => {
    const s = await session();
    const p = await peer();
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 8, telephoneEventPayloadType: 101 });
    const audio: Array<[number, number]> = [];
    s.on('audio', (pkt: RtpAudioPacket) => audio.push([pkt.payloadType, pkt.payload.length]));
    const digits: string[] = [];
    s.on('dtmf', (e) => digits.push(e.digit));
    const send = (pt: number, seq: number, ts: number, body: Uint8Array): Promise<void> =>
      p.sendRtp(s.local.port, { payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: 42 }, body);
    await send(8, 1, 0, payload(160));
    await send(0, 2, 160, payload(160, 0xff)); // PCMU although PCMA was negotiated
    await send(96, 3, 320, payload(20)); // not negotiated: dropped
    await send(13, 4, 480, payload(1)); // comfort noise: not supported, dropped
    // digit '7': start, two updates, end ×3 (all with the event's timestamp 640)
    const ev = (end: boolean, dur: number): Uint8Array =>
      encodeTelephoneEvent({ event: 7, end, volume: 10, duration: dur });
    await send(101, 5, 640, ev(false, 160));
    await send(101, 6, 640, ev(false, 320));
    await send(101, 7, 640, ev(true, 480));
    await send(101, 8, 640, ev(true, 480));
    await send(101, 9, 640, ev(true, 480));
    await send(8, 10, 800, payload(160));
    await until(() => audio.length === 3);
    expect(audio).toEqual([
      [8, 160],
      [0, 160],
      [8, 160],
    ]);
    expect(digits).toEqual(['7']);
    expect(s.stats().unknownPayloadType).toBe(2);
  });

  it('drops telephone-event packets when no telephone-event type was negotiated', async () => {
    const s = await session();
    const p = await peer();
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 0 });
    const digits: string[] = [];
    s.on('dtmf', (e) => digits.push(e.digit));
    const body = encodeTelephoneEvent({ event: 1, end: true, volume: 10, duration: 800 });
    await p.sendRtp(s.local.port, { payloadType: 101, sequenceNumber: 1, timestamp: 0, ssrc: 1 }, body);
    await until(() => s.stats().unknownPayloadType === 1);
    expect(digits).toEqual([]);
  });

  it('reports an SSRC change from the latched source and restarts sequence tracking', async () => {
    const s = await session();
    const p = await peer();
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 0 });
    const changes: Array<{ previous: number; current: number }> = [];
    s.on('ssrcChange', (c) => changes.push(c));
    for (const seq of [100, 101, 103]) {
      await p.sendRtp(
        s.local.port,
        { payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 1 },
        payload(),
      );
    }
    for (const seq of [9000, 9001]) {
      await p.sendRtp(
        s.local.port,
        { payloadType: 0, sequenceNumber: seq, timestamp: 5, ssrc: 2 },
        payload(),
      );
    }
    await until(() => s.stats().packetsReceived === 5);
    expect(changes).toEqual([{ previous: 1, current: 2 }]);
    const st = s.stats();
    expect(st.ssrcChanges).toBe(1);
    expect(st.expected).toBe(4 + 2); // 100..103 then 9000..9001: no phantom loss of ~8900
    expect(st.lost).toBe(1);
  });
});

describe('RtpSession RTCP', () => {
  it('counts RTCP on port+1 and multiplexed RTCP on the RTP port (not as RTP)', async () => {
    const s = await session();
    const p = await peer();
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 0 });
    // a minimal RTCP receiver report: V=2, RC=0, PT=201, length=1, SSRC
    const rr = Buffer.from('80c9000100000007', 'hex');
    await p.send(rr, s.local.port + 1);
    await p.send(rr, s.local.port);
    await until(() => s.stats().rtcpReceived === 2);
    expect(s.stats().malformed).toBe(0);
    expect(s.stats().packetsReceived).toBe(0);
    expect(s.isLatched).toBe(false);
  });
});

describe('RtpSession media timeout (fake clock)', () => {
  it('fires noMediaTimeoutMs after setRemote when nothing arrives, once', async () => {
    const clock = new FakeTimerClock(1000);
    const s = await session({ clock, noMediaTimeoutMs: 120, mediaTimeoutMs: 5000 });
    const p = await peer();
    const fired: RtpTimeoutError[] = [];
    s.on('timeout', (e) => fired.push(e));
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 0 });
    clock.advance(119);
    expect(fired).toHaveLength(0);
    clock.advance(1);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeInstanceOf(RtpTimeoutError);
    expect(fired[0]!.code).toBe('RTP_TIMEOUT');
    expect(fired[0]!.message).toMatch(/noMediaTimeoutMs 120/);
    clock.advance(10_000);
    expect(fired).toHaveLength(1); // once, until media flows
    expect(clock.pending).toBe(1); // only the RTCP report schedule (RTCP goes on)
  });

  it('fires mediaTimeoutMs after the last packet, not while packets flow', async () => {
    const clock = new FakeTimerClock(0);
    const s = await session({ clock, noMediaTimeoutMs: 5000, mediaTimeoutMs: 150 });
    const p = await peer();
    s.setRemote({ address: '127.0.0.1', port: p.port, payloadType: 0 });
    const fired: number[] = [];
    s.on('timeout', () => fired.push(clock.now()));
    // 20 packets 100 ms apart on the session clock: 2 s of media, far longer than the timeout
    for (let i = 0; i < 20; i++) {
      await p.sendRtp(
        s.local.port,
        { payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc: 3 },
        payload(),
      );
      await until(() => s.stats().packetsReceived === i + 1, 2000, `packet ${i}`);
      clock.advance(100);
    }
    expect(fired).toEqual([]);
    const lastPacketAt = clock.now() - 100;
    clock.advance(49); // 149 ms of silence
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([lastPacketAt + 150]);
    clock.advance(10_000);
    expect(fired).toHaveLength(1); // once, until media flows again
  });

  it('close() cancels the timeout timer on the clock', async () => {
    const clock = new FakeTimerClock(0);
    const s = await session({ clock, noMediaTimeoutMs: 100 });
    s.setRemote({ address: '127.0.0.1', port: 9, payloadType: 0 });
    expect(clock.pending).toBe(2); // the media-timeout watch and the RTCP report schedule
    let fired = 0;
    s.on('timeout', () => fired++);
    await s.close();
    expect(clock.pending).toBe(0);
    clock.advance(1000);
    expect(fired).toBe(0);
  });
});

describe('RtpSession close', () => {
  it('is idempotent and leaves no socket or timer behind', async () => {
    const before = await settled();
    const s = new RtpSession({ bindIp: '127.0.0.1', noMediaTimeoutMs: 10_000 });
    let closes = 0;
    s.on('close', () => closes++);
    await s.open();
    s.setRemote({ address: '127.0.0.1', port: 9, payloadType: 0 });
    const during = resourceCounts();
    expect(during.udp - before.udp).toBe(2); // RTP + RTCP
    expect(during.timeout - before.timeout).toBe(1); // the media-timeout watch
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(closes).toBe(1);
    await until(
      () => {
        const now = resourceCounts();
        return now.udp === before.udp && now.timeout === before.timeout;
      },
      1000,
      `resources released (before ${JSON.stringify(before)}, now ${JSON.stringify(resourceCounts())})`,
    );
    expect(s.send(ours(3))).toBe(false);
  });
});
