/**
 * A real third-party RTP peer: SIPp answers a call (test/fixtures/sipp/uas-answer.xml)
 * and, with `-rtp_echo`, returns every RTP packet arriving on its media port to the
 * sender. We stream a 1 kHz tone through RtpMediaBridge to SIPp's media port and find
 * it again with a Goertzel detector in the audio the bridge plays out.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { goertzelPower, generateTone } from '../../src/rtp/goertzel.js';
import { RtpMediaBridge } from '../../src/rtp/bridge.js';
import { startSipp, type SippRun } from '../harness/sipp.js';

const CRLF = '\r\n';

/** Reads whole SIP messages (headers + Content-Length body) from a TCP stream. */
class SipReader {
  private buf = '';
  private waiters: Array<() => void> = [];
  constructor(sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  private take(): string | undefined {
    while (this.buf.startsWith(CRLF)) this.buf = this.buf.slice(2); // keep-alives
    const end = this.buf.indexOf(CRLF + CRLF);
    if (end < 0) return undefined;
    const head = this.buf.slice(0, end);
    const len = Number(/^(?:content-length|l)\s*:\s*(\d+)/im.exec(head)?.[1] ?? 0);
    if (this.buf.length < end + 4 + len) return undefined;
    const msg = this.buf.slice(0, end + 4 + len);
    this.buf = this.buf.slice(end + 4 + len);
    return msg;
  }

  async next(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.take();
      if (m !== undefined) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SIP message within ${timeoutMs} ms; buffered: ${this.buf}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

function header(msg: string, name: string): string {
  const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im').exec(msg);
  if (!m?.[1]) throw new Error(`no ${name} header in:\n${msg}`);
  return m[1].trim();
}

describe('RtpMediaBridge against SIPp -rtp_echo (real RTP peer)', () => {
  let sipp: SippRun | undefined;
  let bridge: RtpMediaBridge | undefined;
  let tcp: Socket | undefined;

  afterEach(async () => {
    tcp?.destroy();
    await bridge?.close();
    await sipp?.stop();
    sipp = bridge = tcp = undefined;
  });

  it('a 1 kHz tone sent to SIPp comes back and dominates in the played-out audio', async () => {
    sipp = await startSipp({ scenario: 'uas-answer.xml', transport: 'tcp', rtpEcho: true });
    bridge = new RtpMediaBridge({ bindIp: '127.0.0.1', noMediaTimeoutMs: 0, mediaTimeoutMs: 0 });
    const local = await bridge.open();

    // -- call setup over TCP: INVITE → 100/180/200 → ACK
    tcp = connect(sipp.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      tcp!.once('connect', resolve);
      tcp!.once('error', reject);
    });
    const reader = new SipReader(tcp);
    const lport = tcp.localPort!;
    const callId = `rtp-echo-${Date.now()}@127.0.0.1`;
    const fromTag = 'ft1';
    const sdp = [
      'v=0',
      `o=- 1 1 IN IP4 ${local.ip}`,
      's=-',
      `c=IN IP4 ${local.ip}`,
      't=0 0',
      `m=audio ${local.port} RTP/AVP 8 0 101`,
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join(CRLF);
    const target = `sip:echo@127.0.0.1:${sipp.port};transport=tcp`;
    const common = (method: string, cseq: number, branch: string, toTag?: string): string[] => [
      `Via: SIP/2.0/TCP 127.0.0.1:${lport};branch=z9hG4bK${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:bridge@127.0.0.1>;tag=${fromTag}`,
      `To: <sip:echo@127.0.0.1>${toTag ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:bridge@127.0.0.1:${lport};transport=tcp>`,
    ];
    tcp.write(
      [
        `INVITE ${target} SIP/2.0`,
        ...common('INVITE', 1, 'inv1'),
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(sdp)}`,
        '',
        sdp,
      ].join(CRLF),
    );
    let ok = '';
    for (let i = 0; i < 5 && ok === ''; i++) {
      const msg = await reader.next();
      if (msg.startsWith('SIP/2.0 200')) ok = msg;
    }
    expect(ok).toMatch(/^SIP\/2\.0 200/);
    const toTag = /;tag=([^;\s>]+)/.exec(header(ok, 'To'))?.[1];
    const body = ok.slice(ok.indexOf(CRLF + CRLF) + 4);
    const mediaPort = Number(/^m=audio (\d+)/m.exec(body)?.[1]);
    const mediaIp = /^c=IN IP4 (\S+)/m.exec(body)?.[1];
    expect(mediaPort).toBe(sipp.mediaPort);
    expect(mediaIp).toBe('127.0.0.1');
    tcp.write(
      [`ACK ${target} SIP/2.0`, ...common('ACK', 1, 'ack1', toTag), 'Content-Length: 0', '', ''].join(CRLF),
    );

    // -- media: stream a tone to SIPp's media port, collect what the bridge plays out
    const heard: Int16Array[] = [];
    bridge.on('audio', (f) => heard.push(f.samples.slice()));
    const firstPacket = new Promise<{ address: string; port: number; payloadType: number }>((r) =>
      bridge!.once('firstPacket', r),
    );
    bridge.start({
      remoteAddress: mediaIp!,
      remotePort: mediaPort,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
    });
    const tone = generateTone(1000, 8000, 8000, 8000); // 1 s, amplitude 8000
    // feed in 20 ms chunks at real time so the bounded outbound queue never overflows
    for (let off = 0; off < tone.length; off += 160) {
      bridge.writeAudio(tone.subarray(off, off + 160), 8000);
      await new Promise((r) => setTimeout(r, 20));
    }
    const latched = await firstPacket;
    expect(latched).toEqual({ address: '127.0.0.1', port: mediaPort, payloadType: 8 });
    await new Promise((r) => setTimeout(r, 200)); // let the echo of the tail arrive

    const stats = bridge.stats();
    expect(stats.packetsReceived).toBeGreaterThan(40);
    expect(stats.strangers).toBe(0);
    // the loudest 0.5 s of what came back
    const all = new Int16Array(heard.length * 160);
    heard.forEach((f, i) => all.set(f, i * 160));
    let best = 0;
    let bestAt = 0;
    for (let at = 0; at + 4000 <= all.length; at += 160) {
      const p = goertzelPower(all.subarray(at, at + 4000), 8000, 1000);
      if (p > best) [best, bestAt] = [p, at];
    }
    const win = all.subarray(bestAt, bestAt + 4000);
    const p1000 = goertzelPower(win, 8000, 1000);
    for (const f of [300, 440, 2000, 3000]) expect(p1000).toBeGreaterThan(100 * goertzelPower(win, 8000, f));

    // -- hang up: BYE → 200, SIPp exits 0
    tcp.write(
      [`BYE ${target} SIP/2.0`, ...common('BYE', 2, 'bye1', toTag), 'Content-Length: 0', '', ''].join(CRLF),
    );
    const byeOk = await reader.next();
    expect(byeOk).toMatch(/^SIP\/2\.0 200/);
    expect(header(byeOk, 'CSeq')).toBe('2 BYE');
    tcp.end();
    expect(await sipp.done()).toBe(0);
  });
});
