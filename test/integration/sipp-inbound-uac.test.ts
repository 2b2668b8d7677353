/**
 * SIPp as Exotel's trunk calling the customer (test/fixtures/sipp/inbound-uac*.xml):
 * our user agent (`ExotelSipClient.ua.onInvite`) answers on loopback, SIPp's `-rtp_echo`
 * returns the RTP our socket sends, and the call ends with BYE from either side. No
 * LiveKit involved.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { createSdpAnswer, createSdpOffer } from '../../src/sdp/offer-answer.js';
import { sdpMediaEndpoint } from '../../src/sdp/text.js';
import type { InboundCall } from '../../src/sip/invite-server.js';
import { freeDualPort } from '../harness/process.js';
import { startSippUac } from '../harness/sipp.js';
import { makeClient, onCleanup, useCleanup } from './sip-client-helpers.js';

useCleanup();

/** Our RTP socket: counts the packets that come back. */
async function rtpSocket(): Promise<{ port: number; echoed: () => number; send: (to: string) => void }> {
  const sock = createSocket('udp4');
  let echoed = 0;
  sock.on('message', () => echoed++);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  onCleanup(() => new Promise<void>((r) => sock.close(() => r())));
  let seq = 0;
  const pkt = Buffer.alloc(12 + 160, 0xd5); // PCMA silence
  return {
    port: sock.address().port,
    echoed: () => echoed,
    send: (to) => {
      const [ip, port] = to.split(':');
      pkt.writeUInt8(0x80, 0);
      pkt.writeUInt8(8, 1);
      pkt.writeUInt16BE(seq & 0xffff, 2);
      pkt.writeUInt32BE(seq * 160, 4);
      pkt.writeUInt32BE(0xcafe, 8);
      seq++;
      sock.send(pkt, Number(port), ip);
    },
  };
}

/** Our user agent, its trunk at SIPp's port on 127.0.0.1, answering every INVITE. */
async function customer(sippPort: number, rtpPort: number) {
  const { client } = makeClient(sippPort, 'tcp');
  await client.start();
  const calls: InboundCall[] = [];
  client.ua.onInvite = (call) => {
    calls.push(call);
    call.ring();
    const sdp = createSdpAnswer(call.offer!, createSdpOffer({ ip: '127.0.0.1', port: rtpPort }));
    void call.accept({ sdp });
  };
  return { client, calls };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIPp calls the customer (inbound over the trunk)', () => {
  it('answered; headers and codec order arrive; RTP echoed; SIPp hangs up; exit code 0', async () => {
    const rtp = await rtpSocket();
    const sippPort = await freeDualPort();
    const { client, calls } = await customer(sippPort, rtp.port);
    const peer = await startSippUac({
      target: { host: '127.0.0.1', port: client.localPort },
      port: sippPort,
      rtpEcho: true,
      holdMs: 1500,
      timeoutS: 15,
    });
    onCleanup(() => peer.stop());
    await until(() => calls[0]?.state === 'answered', 'our side answered');
    const call = calls[0]!;
    expect(call.fromUser).toBe('+919876543210');
    expect(call.toUser).toBe('08044319240');
    expect(call.remoteHeaders['X-Exotel-CallSid']).toMatch(/^sipp\d+c1$/);
    // SIPp's [local_port] over TCP is its end of the connection: our BYE follows it there.
    expect(call.invite.headers.get('Record-Route')).toMatch(/^<sip:127\.0\.0\.1:\d+;transport=TCP;lr>$/);
    expect(call.offer).toMatch(/^m=audio \d+ RTP\/AVP 8 0 101\r?$/m);
    const sippMedia = sdpMediaEndpoint(call.offer!)!;
    for (let i = 0; i < 20 && call.state === 'answered'; i++) {
      rtp.send(sippMedia);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => rtp.echoed() >= 10, 'RTP echoed by SIPp');
    expect(await call.ended).toMatchObject({ reason: 'remote-bye' });
    expect(await peer.done()).toBe(0);
  });

  it('we hang up: SIPp answers our BYE 200 and exits 0', async () => {
    const rtp = await rtpSocket();
    const sippPort = await freeDualPort();
    const { client, calls } = await customer(sippPort, rtp.port);
    const peer = await startSippUac({
      scenario: 'inbound-uac-callee-bye.xml',
      target: { host: '127.0.0.1', port: client.localPort },
      port: sippPort,
      rtpEcho: true,
      timeoutS: 15,
    });
    onCleanup(() => peer.stop());
    await until(() => calls[0]?.state === 'answered', 'our side answered');
    await calls[0]!.hangup();
    expect(await calls[0]!.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(await peer.done()).toBe(0);
  });
});
