/**
 * An inbound call through a real SIP proxy, checked by an independent SIP stack at the
 * far end: SIPp (Exotel's trunk) calls Kamailio (examples/deploy/kamailio.cfg, which
 * record-routes every call), Kamailio hands it over TCP to `listenForCalls()` +
 * `acceptInboundCalls()` in this process, and the host hangs up. The bridge's BYE must
 * follow the route set of the INVITE: to Kamailio with a Route header naming Kamailio.
 * Kamailio refuses an in-dialog request without its own Route entry (404), so a BYE that
 * ignores the route set never reaches SIPp, and SIPp's scenario (inbound-uac-proxied.xml)
 * fails unless the BYE arrives through the proxy (two Via headers). What the bridge wrote
 * on its TCP sockets is read through a spy on `net.Socket.prototype.write` (the listener
 * runs in this process).
 */
import { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { acceptInboundCalls, listenForCalls, type BridgeCall, type BridgeEnded } from '../../src/index.js';
import { livekitOpts, phoneParticipantGone, type Cleanups } from '../harness/e2e.js';
import { startKamailio } from '../harness/kamailio.js';
import { useLeakWatch } from '../harness/leak-watch.js';
import { eventually, roomService } from '../harness/livekit.js';
import { freeDualPort } from '../harness/process.js';
import { startSippUac } from '../harness/sipp.js';
import { freeSippMediaPort } from '../harness/sipp-ports.js';
import { received, receivedRequests } from './sip-client-helpers.js';

const cleanups: Cleanups = [];
useLeakWatch(cleanups);

afterAll(async () => {
  await dispose();
});

/** Copies of the requests of `method` this process writes on TCP sockets, until `stop()`. */
function spyWrites(method: string): { sent: string[]; stop: () => void } {
  const sent: string[] = [];
  const original = Socket.prototype.write;
  const write = original as (this: Socket, ...args: unknown[]) => boolean;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
    const chunk = args[0];
    const text =
      typeof chunk === 'string'
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk).toString('latin1')
          : '';
    if (text.startsWith(`${method} `)) sent.push(text);
    return write.apply(this, args);
  } as typeof original;
  return {
    sent,
    stop: () => {
      Socket.prototype.write = original;
    },
  };
}

/** Every value of a header in a message, in order (repeated headers and comma lists). */
function headerValues(msg: string, name: string): string[] {
  return [...msg.matchAll(new RegExp(`^${name}: *(.*)$`, 'gim'))].flatMap((m) =>
    (m[1] ?? '').split(/,\s*(?=<)/).map((v) => v.trim()),
  );
}

describe('SIPp → Kamailio (Record-Route, TCP) → listenForCalls + acceptInboundCalls', () => {
  it('the host hangs up: the BYE follows the Record-Route through Kamailio, SIPp answers it; ended "host-hangup", the room deleted', async () => {
    const kamPort = await freeDualPort();
    const ends: (BridgeEnded | { reason: 'cancelled-before-bridge' })[] = [];
    const accept = acceptInboundCalls({
      agentName: 'peer-faults-agent',
      agentType: 'faults',
      livekit: livekitOpts(),
      env: {},
    });
    const listener = await listenForCalls({
      livekit: livekitOpts(),
      exotel: {
        sipHost: '127.0.0.1',
        sipPort: kamPort,
        transport: 'tcp',
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        mediaIp: '127.0.0.1',
      },
      env: {},
      allowFrom: ['127.0.0.1'],
      statsLogIntervalMs: 0,
      onCall: async (incoming) => {
        const d = await accept(incoming);
        if ('reject' in d) return d;
        return {
          ...d,
          onEnded: async (e) => {
            await d.onEnded?.(e);
            ends.push(e);
          },
        };
      },
    });
    cleanups.push(() => listener.close());
    const calls: BridgeCall[] = [];
    listener.on('call', (c) => calls.push(c));
    const byes = spyWrites('BYE');
    cleanups.push(byes.stop);
    const kam = await startKamailio({
      port: kamPort,
      backends: [{ host: '127.0.0.1', port: listener.port, transport: 'tcp' }],
    });
    cleanups.push(() => kam.stop());

    const sippPort = await freeDualPort();
    const peer = await startSippUac({
      scenario: 'inbound-uac-proxied.xml',
      target: { host: '127.0.0.1', port: kam.port },
      port: sippPort,
      mediaPort: await freeSippMediaPort(),
      rtpEcho: true,
      timeoutS: 20,
    });
    cleanups.push(() => peer.stop());

    const call = await eventually('the listener took the call', () => calls[0], 15_000);
    await call.answered;
    await eventually('RTP flowing (active)', () => call.status === 'active', 10_000);
    const end = await call.hangup();
    expect(end.reason, end.error?.message).toBe('host-hangup');

    // SIPp: exit 0 only once the BYE came through the proxy and got its 200.
    const code = await peer.done();
    expect(code, `SIPp exited ${String(code)}:\n${await peer.errors()}`).toBe(0);
    expect((await receivedRequests(peer)).map((l) => l.split(' ')[0])).toEqual(['BYE']);

    // What the bridge wrote: the Record-Route of the INVITE (Kamailio's; SIPp sees it in
    // the 200 OK) as its Route, and SIPp's Contact as the Request-URI.
    const ok =
      (await received(peer)).find((m) => m.startsWith('SIP/2.0 200 ') && /^CSeq: *1 INVITE/m.test(m)) ?? '';
    const recordRoute = headerValues(ok, 'Record-Route');
    expect(recordRoute).toHaveLength(1);
    expect(recordRoute[0]).toMatch(new RegExp(`^<sip:127\\.0\\.0\\.1:${kam.port};transport=tcp;lr[>;=]`));
    expect(byes.sent).toHaveLength(1);
    expect(byes.sent[0]).toMatch(
      new RegExp(`^BYE sip:\\+919876543210@127\\.0\\.0\\.1:${sippPort};transport=TCP SIP/2\\.0\r\n`),
    );
    expect(headerValues(byes.sent[0]!, 'Route')).toEqual(recordRoute);

    // At SIPp: Kamailio's Via on top of the bridge's, and no Route left (Kamailio took its own).
    const bye = (await received(peer)).find((m) => m.startsWith('BYE ')) ?? '';
    const vias = headerValues(bye, 'Via');
    expect(vias).toHaveLength(2);
    expect(vias[0]).toMatch(new RegExp(`^SIP/2\\.0/TCP 127\\.0\\.0\\.1:${kam.port};`));
    expect(headerValues(bye, 'Route')).toEqual([]);

    await eventually('phone participant gone', () => phoneParticipantGone(call.roomName));
    await eventually('onEnded ran (the room deleted)', () => ends.length === 1, 10_000);
    expect(ends[0]).toMatchObject({ reason: 'host-hangup' });
    expect(await roomService().listRooms([call.roomName])).toEqual([]);
  });
});
