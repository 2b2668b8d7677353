/**
 * Proves both real SIP peers run here: SIPp (TCP UAS) answers a hand-written INVITE, and
 * baresip auto-answers one. The library's own SIP client is tested against them in the
 * sip-client integration tests; this file only checks the peers and the harness.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startSipp, type SippRun } from '../harness/sipp.js';
import { startBaresip, type BaresipRun } from '../harness/baresip.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Minimal raw SIP over TCP for the smoke test: send text, wait until the buffer matches. */
class RawTcp {
  buf = '';
  constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (this.buf += d));
  }
  static open(port: number): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawTcp(s)));
      s.once('error', reject);
    });
  }
  send(lines: string[], body = ''): void {
    const head = lines.join('\r\n') + `\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    this.sock.write(head + body);
  }
  async waitFor(re: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.buf.match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}; got:\n${this.buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** Waits for a whole response with that status (headers and Content-Length body). */
  async waitForResponse(status: number, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const start = this.buf.indexOf(`SIP/2.0 ${status} `);
      const end = start < 0 ? -1 : this.buf.indexOf('\r\n\r\n', start);
      if (end >= 0) {
        const head = this.buf.slice(start, end + 4);
        const len = Number(/\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(head)?.[1] ?? '0');
        if (this.buf.length >= end + 4 + len) return this.buf.slice(start, end + 4 + len);
      }
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${status}; got:\n${this.buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  get localPort(): number {
    return this.sock.localPort ?? 0;
  }
}

function sdp(port: number): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 8 0`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

async function callOnce(port: number, user: string): Promise<{ answer: string; byeOk: boolean }> {
  const c = await RawTcp.open(port);
  cleanups.push(async () => void c.sock.destroy());
  const lp = c.localPort;
  const callId = `smoke-${Date.now()}@127.0.0.1`;
  const common = (branch: string, cseq: string, toTag = '') => [
    `Via: SIP/2.0/TCP 127.0.0.1:${lp};branch=z9hG4bK${branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:08044319240@test.sip.exotel.com>;tag=smoke1',
    `To: <sip:${user}@127.0.0.1>${toTag}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    `Contact: <sip:08044319240@127.0.0.1:${lp};transport=tcp>`,
  ];
  c.send(
    [
      `INVITE sip:${user}@127.0.0.1:${port};transport=tcp SIP/2.0`,
      ...common('inv1', '1 INVITE'),
      'Content-Type: application/sdp',
    ],
    sdp(40000),
  );
  const ok = await c.waitForResponse(200, 10_000);
  const toTag = /\r\n(?:To|t):[^\r\n]*?(;tag=[^;\r\n>]+)/i.exec(ok)?.[1] ?? '';
  c.send([`ACK sip:${user}@127.0.0.1:${port};transport=tcp SIP/2.0`, ...common('ack1', '1 ACK', toTag)]);
  await new Promise((r) => setTimeout(r, 300));
  c.buf = '';
  c.send([`BYE sip:${user}@127.0.0.1:${port};transport=tcp SIP/2.0`, ...common('bye1', '2 BYE', toTag)]);
  const byeOk = await c.waitFor(/SIP\/2\.0 200 [^\r\n]*\r\n[\s\S]*?CSeq:\s*2 BYE/i, 5000).then(() => true);
  c.sock.end();
  return { answer: ok, byeOk };
}

describe('real SIP peers on loopback', () => {
  it('SIPp as a TCP UAS answers an INVITE (100/180/200 with PCMA-first SDP), takes ACK and BYE, and exits 0', async () => {
    const sipp: SippRun = await startSipp({ scenario: 'uas-answer.xml', transport: 'tcp' });
    cleanups.push(() => sipp.stop());
    const { answer, byeOk } = await callOnce(sipp.port, 'exotel');
    expect(answer).toMatch(/m=audio \d+ RTP\/AVP 8 0 101/);
    expect(byeOk).toBe(true);
    expect(await sipp.done()).toBe(0);
    expect(await sipp.messages()).toMatch(/BYE sip:/);
  });

  it('baresip auto-answers an INVITE over TCP and accepts BYE', async () => {
    const baresip: BaresipRun = await startBaresip({ lifetimeS: 20 });
    cleanups.push(() => baresip.stop());
    const { answer, byeOk } = await callOnce(baresip.port, 'uas');
    expect(answer).toMatch(/m=audio \d+ RTP\/AVP (8|0)/);
    expect(answer).toMatch(/c=IN IP4 127\.0\.0\.1/);
    expect(byeOk).toBe(true);
    expect(baresip.process.child.exitCode).toBeNull();
  });
});
