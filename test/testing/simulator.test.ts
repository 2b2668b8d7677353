/**
 * The Exotel simulator on its own, driven by the library's ExotelSipClient and an
 * RtpMediaBridge as the caller, over real loopback sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ExotelSimulator, type ExotelSimulatorOptions } from '../../src/testing/index.js';
import { ExotelSipClient } from '../../src/sip/client.js';
import { RtpMediaBridge } from '../../src/rtp/bridge.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { dominantFrequency, generateTone } from '../../src/rtp/goertzel.js';
import { CallRejectedError } from '../../src/errors.js';
import { connect } from 'node:net';
import { createRequest, type SipMessage } from '../../src/sip/message.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { SipStreamFramer } from '../../src/sip/framing.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function sim(o: ExotelSimulatorOptions = {}) {
  const s = new ExotelSimulator({
    host: '127.0.0.1',
    fromDomain: 'acme.sip.exotel.com',
    callerIds: ['08044319240'],
    ...o,
  });
  await s.start();
  cleanups.push(() => s.close());
  return s;
}

async function caller(
  s: ExotelSimulator,
  o: {
    transport?: 'tcp' | 'udp';
    fromDomain?: string;
    callerId?: string;
    auth?: { username: string; password: string };
  } = {},
) {
  const client = new ExotelSipClient({
    sipHost: '127.0.0.1',
    sipPort: s.address.port,
    transport: o.transport ?? 'tcp',
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    fromDomain: o.fromDomain ?? 'acme.sip.exotel.com',
    callerId: o.callerId ?? '08044319240',
    auth: o.auth,
  });
  await client.start();
  cleanups.push(() => client.close());
  const media = new RtpMediaBridge({ bindIp: '127.0.0.1', jitterTargetMs: 20 });
  cleanups.push(() => media.close());
  const local = await media.open();
  return { client, media, offer: createSdpOffer({ ip: local.ip, port: local.port }) };
}

async function rejection(p: Promise<unknown>): Promise<CallRejectedError> {
  try {
    await p;
  } catch (e) {
    return e as CallRejectedError;
  }
  throw new Error('expected a rejection');
}

describe('ExotelSimulator', () => {
  it.each(['tcp', 'udp'] as const)(
    '%s: answers PCMA first, plays its tone to the caller and records the caller',
    async (transport) => {
      const s = await sim({ behaviour: { play: { toneHz: 440 } } });
      const { client, media, offer } = await caller(s, { transport });
      const heard: Int16Array[] = [];
      media.on('audio', ({ samples }) => heard.push(samples.slice()));
      const call = client.invite({ to: '+919876543210', sdp: offer });
      const answer = await call.answered;
      expect(answer.negotiated?.codec).toBe('PCMA');
      media.start(answer.negotiated!);
      for (let i = 0; i < 40; i++) {
        media.writeAudio(generateTone(1000, 8000, 160, 8000, i * 160), 8000);
        await new Promise((r) => setTimeout(r, 20));
      }
      await call.hangup();
      const all = new Int16Array(heard.length * 160);
      heard.forEach((f, i) => all.set(f, i * 160));
      expect(dominantFrequency(all, 8000, [300, 440, 1000, 2000])).toBe(440);
      const simCall = s.calls[0]!;
      expect(simCall.to).toBe('+919876543210');
      expect(simCall.from).toBe('08044319240');
      expect(dominantFrequency(simCall.heard(), 8000, [300, 440, 1000, 2000])).toBe(1000);
      expect((await simCall.ended).by).toBe('caller');
    },
  );

  it('403 for a wrong From domain, a wrong caller id, and a source IP not allowed', async () => {
    const s = await sim({ allowedSourceIps: ['127.0.0.1'] });
    for (const o of [{ fromDomain: 'evil.example.com' }, { callerId: '0999' }]) {
      const { client, offer } = await caller(s, o);
      const e = await rejection(client.invite({ to: '+919876543210', sdp: offer }).answered);
      expect(e).toBeInstanceOf(CallRejectedError);
      expect(e.status).toBe(403);
    }
    const strict = await sim({ allowedSourceIps: ['127.0.0.2'] });
    const { client, offer } = await caller(strict);
    expect((await rejection(client.invite({ to: '+919876543210', sdp: offer }).answered)).status).toBe(403);
    expect(strict.calls).toHaveLength(0);
  });

  it('404 for a number that is not E.164 in the Request-URI (raw INVITE over TCP)', async () => {
    const s = await sim();
    const sock = connect(s.address.port, '127.0.0.1');
    cleanups.push(async () => void sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    const invite = createRequest('INVITE', `sip:09876543210@127.0.0.1:${s.address.port}`, [
      ['Via', `SIP/2.0/TCP 127.0.0.1:${sock.localPort};branch=z9hG4bKraw404;rport`],
      ['Max-Forwards', '70'],
      ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=raw1'],
      ['To', '<sip:09876543210@127.0.0.1>'],
      ['Call-ID', 'raw-404@127.0.0.1'],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:08044319240@127.0.0.1:${sock.localPort};transport=tcp>`],
    ]);
    const framer = new SipStreamFramer();
    const got = new Promise<SipMessage>((resolve) =>
      sock.on('data', (d) => {
        for (const m of framer.push(d)) if (m.kind === 'response' && m.status >= 200) resolve(m);
      }),
    );
    sock.write(serializeSipMessage(invite));
    const res = await got;
    expect(res.kind === 'response' && res.status).toBe(404);
    expect(s.calls).toHaveLength(0);
  });

  it('early media: 183 with SDP reaches progress before the 200', async () => {
    const s = await sim({ behaviour: { earlyMedia: true, ringAfterMs: 20, answerAfterMs: 200 } });
    const { client, offer } = await caller(s);
    const call = client.invite({ to: '+919876543210', sdp: offer });
    const progress: { status: number; sdp?: string }[] = [];
    call.on('progress', (p) => progress.push(p));
    await call.answered;
    const early = progress.find((p) => p.status === 183);
    expect(early?.sdp).toMatch(/m=audio \d+ RTP\/AVP 8/);
    await call.hangup();
  });

  it('rtpFromOtherPort: RTP arrives from a port other than the one in the SDP (the caller latches)', async () => {
    const s = await sim({ behaviour: { rtpFromOtherPort: true } });
    const { client, media, offer } = await caller(s);
    const call = client.invite({ to: '+919876543210', sdp: offer });
    const answer = await call.answered;
    media.start(answer.negotiated!);
    const first = await new Promise<{ port: number }>((r) => media.once('firstPacket', r));
    expect(first.port).not.toBe(answer.negotiated!.remotePort);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.calls[0]!.stats()!.packetsReceived).toBeGreaterThan(0); // our RTP followed the latch
    await call.hangup();
  });

  it('digest: challenges with 401, accepts the right answer and refuses a wrong password with 403', async () => {
    const s = await sim({ auth: { realm: 'exotel', username: 'acme', password: 's3cret' } });
    const ok = await caller(s, { auth: { username: 'acme', password: 's3cret' } });
    const call = ok.client.invite({ to: '+919876543210', sdp: ok.offer });
    await call.answered;
    await call.hangup();
    const bad = await caller(s, { auth: { username: 'acme', password: 'wrong' } });
    expect(
      (await rejection(bad.client.invite({ to: '+919876543210', sdp: bad.offer }).answered)).status,
    ).toBe(403);
    expect(
      s.requests.filter((r) => r.method === 'INVITE' && r.message.headers.has('Authorization')),
    ).toHaveLength(2);
  });

  it('CANCEL before the answer gets 487; hangupAfterMs sends BYE; close() leaves no sockets', async () => {
    const before = process
      .getActiveResourcesInfo()
      .filter((r) => r === 'UDPWrap' || r.startsWith('TCP')).length;
    const s = await sim({ behaviour: { noAnswer: true } });
    const { client, offer } = await caller(s);
    const call = client.invite({ to: '+919876543210', sdp: offer, ringingTimeoutMs: 300 });
    const ended = await call.ended;
    expect(ended).toMatchObject({ reason: 'timeout', status: 487 });
    expect((await s.calls[0]!.ended).by).toBe('cancel');

    const s2 = await sim({ behaviour: { hangupAfterMs: 200 } });
    const c2 = await caller(s2);
    const call2 = c2.client.invite({ to: '+919876543210', sdp: c2.offer });
    await call2.answered;
    expect((await call2.ended).reason).toBe('remote-bye');
    for (const c of cleanups.splice(0).reverse()) await c();
    await new Promise((r) => setTimeout(r, 50));
    const after = process
      .getActiveResourcesInfo()
      .filter((r) => r === 'UDPWrap' || r.startsWith('TCP')).length;
    expect(after).toBeLessThanOrEqual(before);
  });
});
