/**
 * `ExotelSimulator.callIn`: the simulated trunk calls our own user agent
 * (`ExotelSipClient.ua.onInvite`) on loopback, as Exotel's trunk calls the customer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ExotelSimulator,
  type ExotelSimulatorOptions,
  type InboundCallOptions,
  type InboundCallTarget,
} from '../../src/testing/index.js';
import { ExotelSipClient, type ExotelSipClientOptions } from '../../src/sip/client.js';
import type { InboundCall } from '../../src/sip/invite-server.js';
import { createSdpAnswer, createSdpOffer } from '../../src/sdp/offer-answer.js';
import { sdpMediaEndpoint } from '../../src/sdp/text.js';
import { dominantFrequency, generateTone } from '../../src/rtp/goertzel.js';
import { linearToAlaw } from '../../src/codec/g711.js';
import { compactHeaders } from '../../src/testing/simulator-inbound.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { makeTestPki } from '../harness/pki.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const EXOPHONE = '08044319240';
const CALLER = '+919876543210';

/** Our RTP socket: counts what arrives and remembers where it came from. */
async function rtpSocket(): Promise<{ sock: UdpSocket; port: number; packets: Buffer[] }> {
  const sock = createSocket('udp4');
  const packets: Buffer[] = [];
  sock.on('message', (m) => packets.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { sock, port: sock.address().port, packets };
}

/** A simulator and our user agent that trusts it (sipHost 127.0.0.1). */
async function setup(
  o: {
    sim?: ExotelSimulatorOptions;
    client?: Partial<ExotelSipClientOptions>;
    target?: Partial<InboundCallTarget>;
  } = {},
) {
  const sim = new ExotelSimulator({ host: '127.0.0.1', ...o.sim });
  await sim.start();
  cleanups.push(() => sim.close());
  const client = new ExotelSipClient({
    customerIp: '127.0.0.1',
    customerSipPort: 0,
    sipHost: '127.0.0.1',
    sipPort: sim.address.port,
    transport: 'tcp',
    fromDomain: 'x',
    callerId: EXOPHONE,
    ...o.client,
  });
  await client.start();
  cleanups.push(() => client.close());
  const rtp = await rtpSocket();
  const calls: InboundCall[] = [];
  const call = (c: Partial<InboundCallOptions> = {}) =>
    sim.callIn({
      target: {
        host: '127.0.0.1',
        port: client.localPort,
        transport: client === undefined ? 'tcp' : (o.client?.transport ?? 'tcp'),
        ...o.target,
      },
      from: CALLER,
      to: EXOPHONE,
      ...c,
    });
  return { sim, client, rtp, calls, call };
}

/** Our side rings and answers every call with an SDP for `rtpPort`. */
function answerAll(client: ExotelSipClient, rtpPort: number, calls: InboundCall[]): void {
  client.ua.onInvite = (c) => {
    calls.push(c);
    c.ring();
    const sdp = createSdpAnswer(c.offer!, createSdpOffer({ ip: '127.0.0.1', port: rtpPort }));
    // accept() rejects when the call ends before our 2xx is ACKed (the CANCEL test).
    c.accept({ sdp }).catch(() => undefined);
  };
}

function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`condition not met in time: ${check.toString()}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe('ExotelSimulator.callIn', () => {
  it('is answered: Exotel headers, codec order, Record-Route, 180 then 200, ACK confirms both sides', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ headers: { 'X-Exotel-Flow': 'support' } });
    const answer = await inbound.answered;
    expect(answer.status).toBe(200);
    expect(sdpMediaEndpoint(answer.sdp!)).toBe(`127.0.0.1:${rtp.port}`);
    expect(inbound.provisional).toEqual([100, 180]);
    expect(inbound.state).toBe('confirmed');
    expect(inbound.negotiated).toMatchObject({
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
    });
    const ours = calls[0]!;
    await until(() => ours.state === 'answered');
    expect(ours.fromUser).toBe(CALLER);
    expect(ours.toUser).toBe(EXOPHONE);
    expect(ours.callId).toBe(inbound.callId);
    expect(ours.remoteHeaders).toMatchObject({
      'X-Exotel-CallSid': inbound.callSid,
      'X-Exotel-LegSid': inbound.legSid,
      'X-Exotel-TrunkSid': inbound.trunkSid,
      'X-Exotel-Flow': 'support',
    });
    expect(inbound.callSid).toMatch(/^[0-9a-f]{32}$/);
    expect(ours.invite.uri).toBe(`sip:${EXOPHONE}@127.0.0.1:${client.localPort}`);
    expect(ours.invite.headers.get('Record-Route')).toBe(
      `<sip:127.0.0.1:${inbound.invite.headers.get('Via')!.match(/:(\d+);/)![1]};transport=tcp;lr>`,
    );
    expect(ours.invite.headers.get('From')).toMatch(new RegExp(`^<sip:\\${CALLER}@127\\.0\\.0\\.1>;tag=`));
    // The offer lists PCMA, PCMU, then telephone-event 101.
    expect(ours.offer).toMatch(/^m=audio \d+ RTP\/AVP 8 0 101\r?$/m);
    expect(ours.offer).toContain('a=rtpmap:101 telephone-event/8000');
  });

  it('offers the codecs in the order asked for', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ codecs: ['PCMU', 'PCMA'] });
    await inbound.answered;
    expect(calls[0]!.offer).toMatch(/^m=audio \d+ RTP\/AVP 0 8 101\r?$/m);
    expect(inbound.negotiated?.codec).toBe('PCMU');
  });

  it("the simulator's hangup (BYE) ends both sides", async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call();
    await inbound.answered;
    await until(() => calls[0]?.state === 'answered');
    await inbound.hangup();
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(await calls[0]!.ended).toMatchObject({ reason: 'remote-bye' });
    expect(inbound.state).toBe('ended');
  });

  it('hangupAfterMs sends the BYE by itself', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ hangupAfterMs: 50 });
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(await calls[0]!.ended).toMatchObject({ reason: 'remote-bye' });
  });

  it('our BYE ends both sides; the simulator answers it 200', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call();
    await inbound.answered;
    await until(() => calls[0]?.state === 'answered');
    await calls[0]!.hangup();
    expect(await calls[0]!.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(await inbound.ended).toEqual({ by: 'callee' });
  });

  it('CANCEL before the answer: 487, both sides ended', async () => {
    const { client, call } = await setup();
    const ringing: InboundCall[] = [];
    client.ua.onInvite = (c) => {
      ringing.push(c);
      c.ring();
    };
    const inbound = call();
    await until(() => inbound.provisional.includes(180));
    expect(inbound.state).toBe('proceeding');
    await inbound.hangup();
    expect(await inbound.answered).toMatchObject({ status: 487 });
    expect(await inbound.ended).toEqual({ by: 'cancel', status: 487 });
    expect(await ringing[0]!.ended).toEqual({ reason: 'cancelled', status: 487 });
  });

  it('a rejection (486) ends the call with rejected 486, ACKed', async () => {
    const { client, call } = await setup();
    const ours: InboundCall[] = [];
    client.ua.onInvite = (c) => {
      ours.push(c);
      c.reject(486);
    };
    const inbound = call();
    expect(await inbound.answered).toMatchObject({ status: 486, reason: 'Busy Here' });
    expect(await inbound.ended).toEqual({ by: 'rejected', status: 486 });
    expect(await ours[0]!.ended).toEqual({ reason: 'rejected', status: 486 });
  });

  it('compact header forms parse on our side', async () => {
    const { sim, client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ compactHeaders: true, from: '09876543210' });
    await inbound.answered;
    expect(calls[0]!.fromUser).toBe('09876543210');
    expect(calls[0]!.callId).toBe(inbound.callId);
    expect(calls[0]!.offer).toContain('m=audio');
    await inbound.hangup();
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(sim.inboundCalls).toEqual([inbound]);
  });

  it('compactHeaders writes i:, f:, t:, m:, v:, l:, c: and keeps the body', () => {
    const raw = [
      'INVITE sip:1@h SIP/2.0',
      'Via: SIP/2.0/TCP h:1;branch=z9hG4bKx',
      'From: <sip:a@h>;tag=1',
      'To: <sip:b@h>',
      'Call-ID: abc',
      'CSeq: 1 INVITE',
      'Contact: <sip:a@h:1>',
      'Content-Type: application/sdp',
      'Content-Length: 3',
      '',
      'v=0',
    ].join('\r\n');
    const out = Buffer.from(compactHeaders(Buffer.from(raw))).toString();
    expect(out).toBe(
      [
        'INVITE sip:1@h SIP/2.0',
        'v: SIP/2.0/TCP h:1;branch=z9hG4bKx',
        'f: <sip:a@h>;tag=1',
        't: <sip:b@h>',
        'i: abc',
        'CSeq: 1 INVITE',
        'm: <sip:a@h:1>',
        'c: application/sdp',
        'l: 3',
        '',
        'v=0',
      ].join('\r\n'),
    );
  });

  it('media: RTP goes to the answer’s address; heard() holds what we send (1 kHz, PCMA)', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ play: { toneHz: 440, amplitude: 8000 } });
    await inbound.answered;
    const [ip, port] = sdpMediaEndpoint(calls[0]!.offer!)!.split(':');
    await until(() => rtp.packets.length >= 10);
    expect(rtp.packets[0]![1]! & 0x7f).toBe(8); // PCMA
    // Send 1 s of a 1 kHz tone back, paced at 20 ms.
    const pkt = Buffer.alloc(12 + 160);
    for (let i = 0; i < 50; i++) {
      pkt.writeUInt8(0x80, 0);
      pkt.writeUInt8(8, 1);
      pkt.writeUInt16BE(i, 2);
      pkt.writeUInt32BE(i * 160, 4);
      pkt.writeUInt32BE(0x1234, 8);
      const tone = generateTone(1000, 8000, 160, 8000, i * 160);
      for (let k = 0; k < 160; k++) pkt[12 + k] = linearToAlaw(tone[k]!);
      rtp.sock.send(pkt, Number(port), ip);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => inbound.heard().length >= 4000);
    expect(dominantFrequency(inbound.heard(), 8000, [300, 440, 1000, 2000])).toBe(1000);
    const got = inbound.stats();
    expect(got.packetsReceived).toBeGreaterThan(20);
    await inbound.hangup();
    const sent = rtp.packets.length;
    expect(sent).toBeGreaterThan(20);
  });

  it('early media: RTP starts on a 183 with SDP, before the 200', async () => {
    const { client, rtp, call } = await setup();
    const ours: InboundCall[] = [];
    client.ua.onInvite = (c) => {
      ours.push(c);
      c.ring(createSdpAnswer(c.offer!, createSdpOffer({ ip: '127.0.0.1', port: rtp.port })));
    };
    const inbound = call();
    await until(() => inbound.provisional.includes(183));
    expect(inbound.negotiated).toMatchObject({ remotePort: rtp.port, codec: 'PCMA' });
    await until(() => rtp.packets.length >= 3);
    expect(inbound.state).toBe('proceeding');
    const sdp = createSdpAnswer(ours[0]!.offer!, createSdpOffer({ ip: '127.0.0.1', port: rtp.port }));
    ours[0]!.accept({ sdp }).catch(() => undefined);
    expect((await inbound.answered).status).toBe(200);
    await inbound.hangup();
  });

  it('sendDtmf sends RFC 4733 events (payload type 101)', async () => {
    const { client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call({ play: null });
    await inbound.answered;
    await inbound.sendDtmf('5');
    await until(() => rtp.packets.some((p) => (p[1]! & 0x7f) === 101 && p[12] === 5));
    await inbound.hangup();
  });

  it('over UDP: INVITE from the simulator socket, answered, BYE', async () => {
    const { client, rtp, calls, call } = await setup({
      sim: { transports: ['udp'] },
      client: { transport: 'udp' },
    });
    answerAll(client, rtp.port, calls);
    const inbound = call();
    expect((await inbound.answered).status).toBe(200);
    await until(() => calls[0]?.state === 'answered');
    await inbound.hangup();
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(await calls[0]!.ended).toMatchObject({ reason: 'remote-bye' });
  });

  it('close() ends a live inbound call (BYE) and releases it', async () => {
    const { sim, client, rtp, calls, call } = await setup();
    answerAll(client, rtp.port, calls);
    const inbound = call();
    await inbound.answered;
    await until(() => calls[0]?.state === 'answered');
    await sim.close();
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(await calls[0]!.ended).toMatchObject({ reason: 'remote-bye' });
  });

  it('close() while the INVITE is unanswered: CANCEL, 487', async () => {
    const { sim, client, call } = await setup();
    const ringing: InboundCall[] = [];
    client.ua.onInvite = (c) => {
      ringing.push(c);
      c.ring();
    };
    const inbound = call();
    await until(() => inbound.provisional.length > 0);
    await sim.close();
    expect(await inbound.ended).toEqual({ by: 'cancel', status: 487 });
  });

  it('a target that refuses the connection: answered 503, ended by error', async () => {
    const { sim } = await setup();
    const inbound = sim.callIn({ target: { host: '127.0.0.1', port: 1 }, from: CALLER, to: EXOPHONE });
    expect(await inbound.answered).toMatchObject({ status: 503 });
    expect(await inbound.ended).toEqual({ by: 'error', status: 503 });
  });

  it('over UDP on a fake clock: the INVITE is retransmitted at T1, 2·T1… and Timer B (64·T1) ends it 408', async () => {
    const clock = new FakeTimerClock();
    const sim = new ExotelSimulator({ host: '127.0.0.1', transports: ['udp'], clock });
    await sim.start();
    cleanups.push(() => sim.close());
    const silent = await rtpSocket(); // a UDP target that never answers
    const invites = (): number =>
      silent.packets.filter((p) => p.toString('latin1').startsWith('INVITE ')).length;
    const inbound = sim.callIn({
      target: { host: '127.0.0.1', port: silent.port, transport: 'udp' },
      from: CALLER,
      to: EXOPHONE,
    });
    await until(() => invites() === 1);
    expect(inbound.state).toBe('calling');
    clock.advance(500);
    await until(() => invites() === 2);
    clock.advance(1000);
    await until(() => invites() === 3);
    clock.advance(30_499);
    await until(() => invites() === 7); // at 3.5 s, 7.5 s, 15.5 s and 31.5 s
    expect(inbound.state).toBe('calling');
    clock.advance(1);
    expect(await inbound.answered).toMatchObject({ status: 408 });
    expect(await inbound.ended).toEqual({ by: 'error', status: 408 });
    expect(clock.pending).toBe(0);
  });

  it('over TLS: the simulator connects with the CA it is given; answered and ended', async () => {
    const pki = makeTestPki();
    const { client, rtp, calls, call } = await setup({
      sim: { tls: { key: pki.key, cert: pki.cert } },
      client: { transport: 'tls', tls: { ca: pki.ca }, tlsServer: { key: pki.key, cert: pki.cert } },
      target: { tls: { ca: pki.ca } },
    });
    answerAll(client, rtp.port, calls);
    const inbound = call();
    expect((await inbound.answered).status).toBe(200);
    expect(calls[0]!.invite.headers.get('Via')).toMatch(/^SIP\/2\.0\/TLS /);
    await until(() => calls[0]?.state === 'answered');
    await calls[0]!.hangup();
    expect(await inbound.ended).toEqual({ by: 'callee' });
  });

  it('close() on a fake clock: the BYE is answered, no timer and no socket is left behind', async () => {
    const clock = new FakeTimerClock();
    const { sim, client, rtp, calls, call } = await setup({ sim: { clock } });
    answerAll(client, rtp.port, calls);
    const handles = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'TCPWrap' || r === 'TLSWrap')
        .length;
    const baseline = handles();
    const inbound = call({ hangupAfterMs: 60_000 });
    await inbound.answered;
    await until(() => calls[0]?.state === 'answered');
    expect(clock.pending).toBeGreaterThan(0); // the player's tick and the hang-up timer
    expect(handles()).toBeGreaterThan(baseline); // the call's RTP socket and connection
    await sim.close();
    expect(await inbound.ended).toEqual({ by: 'caller', status: 200 });
    expect(clock.pending).toBe(0);
    await until(() => handles() <= baseline - 1); // the simulator's UDP socket went too
  });
});
