/**
 * The shipped Kamailio config (examples/deploy/kamailio.cfg) with real peers, before any
 * bridge is behind it: two SIPp backends stand in for two bridge processes (dispatcher
 * set 1 over TCP) and our ExotelSipClient stands in for Exotel's trunk. Proves that calls
 * are spread over both backends, that Kamailio stays in every dialog (Record-Route; the
 * BYE passes through it), that OPTIONS probing takes a killed backend out so new calls
 * all land on the other one, that a backend's 503 (a draining bridge) fails over to the
 * next one, that Kamailio itself answers 503 when no backend is up, answers OPTIONS sent
 * to it 200, and refuses INVITEs from addresses off its trunk allow-list with 403.
 */
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CallRejectedError } from '../../src/errors.js';
import { startKamailio, type KamailioRun } from '../harness/kamailio.js';
import { eventually } from '../harness/livekit.js';
import { startSipp, type SippRun } from '../harness/sipp.js';
import {
  CALLEE,
  killSipp,
  makeClient,
  offer,
  onCleanup,
  received,
  sleep,
  useCleanup,
} from './sip-client-helpers.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/kamailio');
const PROBE_S = 1;

useCleanup();

/**
 * A SIPp backend that answers probes and calls until stopped (each probe counts as a SIPp
 * call). A free port can be taken by another process between the probe and SIPp's bind;
 * SIPp then exits at once ("Unable to bind main socket"), so start again on a fresh port
 * (at most 3 attempts).
 */
async function backend(scenario = 'uas-dispatch.xml'): Promise<SippRun> {
  for (let attempt = 1; ; attempt++) {
    const run = await startSipp({
      scenario: resolve(FIXTURES, scenario),
      transport: 'tcp',
      calls: 10_000,
      timeoutS: 90,
    });
    const exitedEarly = await Promise.race([
      run.process.exited.then(() => true),
      sleep(300).then(() => false),
    ]);
    if (exitedEarly && attempt < 3) {
      await run.stop();
      await rm(run.dir, { recursive: true, force: true });
      continue;
    }
    onCleanup(async () => {
      await run.stop();
      await rm(run.dir, { recursive: true, force: true });
    });
    if (exitedEarly) throw new Error(`SIPp backend exited at start: ${await run.errors()}`);
    return run;
  }
}

async function kamailio(backends: SippRun[], trunkAllow?: string): Promise<KamailioRun> {
  const kam = await startKamailio({
    backends: backends.map((b) => ({ host: '127.0.0.1', port: b.port, transport: 'tcp' as const })),
    probeIntervalSec: PROBE_S,
    ...(trunkAllow !== undefined ? { trunkAllow } : {}),
  });
  onCleanup(() => kam.stop());
  return kam;
}

/** Requests a backend received, by method (first line of each). */
async function requests(run: SippRun, method: string): Promise<string[]> {
  return (await received(run)).filter((m) => m.startsWith(`${method} `));
}

/** Waits until Kamailio's probes reached every backend (each answered at least one OPTIONS). */
async function probed(backends: SippRun[]): Promise<void> {
  await eventually(
    'an OPTIONS probe at every backend',
    async () => (await Promise.all(backends.map((b) => requests(b, 'OPTIONS')))).every((r) => r.length > 0),
    PROBE_S * 5000,
  );
}

/** Places `n` calls through Kamailio at once; each is answered, then hung up by us. */
async function callThrough(kam: KamailioRun, n: number): Promise<void> {
  const { client } = makeClient(kam.port, 'tcp');
  const calls = Array.from({ length: n }, () => client.invite({ to: CALLEE, sdp: offer() }));
  const answers = await Promise.all(calls.map((c) => c.answered));
  for (const a of answers) expect(a.status).toBe(200);
  await Promise.all(calls.map((c) => c.hangup()));
  for (const c of calls) expect(await c.ended).toEqual({ reason: 'local-bye', status: 200 });
  await client.close();
}

/** Messages SIPp traced as sent (`-trace_msg`), each as its text. */
async function sent(run: SippRun): Promise<string[]> {
  const out: string[] = [];
  for (const chunk of (await run.messages()).split(/\n-{5,}[^\n]*\n/)) {
    const m = /^\w+ message sent \(\d+ bytes\):\n\n([\s\S]*)$/.exec(chunk.trimStart());
    if (m) out.push(m[1]!.replace(/\r/g, ''));
  }
  return out;
}

const viaHosts = (msg: string): string[] =>
  [...msg.matchAll(/^Via: SIP\/2\.0\/(\w+) ([^;\s]+)/gim)].map((m) => `${m[1]!.toLowerCase()} ${m[2]!}`);

describe('Kamailio dispatcher (examples/deploy/kamailio.cfg) in front of two SIPp backends over TCP', () => {
  it('spreads 10 calls over both backends; the 200 OK carries its Record-Route and every ACK and BYE pass through it', async () => {
    const a = await backend();
    const b = await backend();
    const kam = await kamailio([a, b]);
    await probed([a, b]);

    await callThrough(kam, 10);

    const invitesA = await requests(a, 'INVITE');
    const invitesB = await requests(b, 'INVITE');
    expect(invitesA.length + invitesB.length).toBe(10);
    // Round-robin over two destinations: both take calls.
    expect(invitesA.length).toBeGreaterThan(0);
    expect(invitesB.length).toBeGreaterThan(0);

    const kamHop = `tcp 127.0.0.1:${kam.port}`;
    for (const run of [a, b]) {
      const invites = await requests(run, 'INVITE');
      const acks = await requests(run, 'ACK');
      const byes = await requests(run, 'BYE');
      expect(acks).toHaveLength(invites.length);
      expect(byes).toHaveLength(invites.length);
      for (const inv of invites) {
        // Kamailio recorded itself on the INVITE (the backend copies it into its 200 OK,
        // which is how our client learned the route set).
        expect(inv).toMatch(
          new RegExp(`^Record-Route: <sip:127\\.0\\.0\\.1:${kam.port};transport=tcp;[^>]*lr`, 'm'),
        );
        expect(viaHosts(inv)[0]).toBe(kamHop);
      }
      // The in-dialog requests reached the backend through Kamailio: its Via on top and
      // our own below it. Sent straight to the backend's Contact, they would carry ours only.
      for (const req of [...acks, ...byes]) {
        const vias = viaHosts(req);
        expect(vias).toHaveLength(2);
        expect(vias[0]).toBe(kamHop);
        // Kamailio consumed its own Route entry; the Request-URI is the backend's Contact.
        expect(req).toMatch(
          new RegExp(`^(ACK|BYE) sip:uas@127\\.0\\.0\\.1:${run.port};transport=tcp SIP/2\\.0`, 'i'),
        );
        expect(req).not.toMatch(/^Route:/m);
      }
    }
    // The 200 OK to each INVITE that a backend sent carried Kamailio's Record-Route.
    for (const run of [a, b]) {
      const ok = (await sent(run)).filter((m) => m.startsWith('SIP/2.0 200') && /^CSeq: \d+ INVITE/m.test(m));
      expect(ok.length).toBeGreaterThanOrEqual((await requests(run, 'INVITE')).length);
      for (const r of ok) expect(r).toContain(`Record-Route: <sip:127.0.0.1:${kam.port};transport=tcp;`);
    }
  });

  it('takes a killed backend out within a few OPTIONS probe intervals; new calls all go to the other one', async () => {
    const a = await backend();
    const b = await backend();
    const kam = await kamailio([a, b]);
    await probed([a, b]);

    killSipp(a);
    const down = `bridge down sip:127.0.0.1:${a.port};transport=tcp`;
    await eventually(
      'Kamailio marks the killed backend down',
      () => kam.log().includes(down),
      PROBE_S * 5000,
    );

    const before = (await requests(b, 'INVITE')).length;
    await callThrough(kam, 6);
    expect((await requests(b, 'INVITE')).length - before).toBe(6);
    expect(kam.log()).not.toContain(`bridge down sip:127.0.0.1:${b.port}`);
  });

  it('moves a call on to the next backend when one answers 503 (a draining bridge)', async () => {
    const draining = await backend('uas-dispatch-503.xml');
    const b = await backend();
    const kam = await kamailio([draining, b]);
    await probed([draining, b]);

    await callThrough(kam, 4);
    // Every call was answered by b; the draining backend refused those it was offered.
    expect(await requests(b, 'INVITE')).toHaveLength(4);
    expect((await requests(draining, 'INVITE')).length).toBeGreaterThan(0);
    expect(kam.log()).toMatch(/bridge failed \(503\), next bridge sip:127\.0\.0\.1:\d+;transport=tcp/);
  });

  it('answers 503 itself when no backend is up', async () => {
    const a = await backend();
    const kam = await kamailio([a]);
    await probed([a]);
    killSipp(a);
    await eventually('backend down', () => kam.log().includes('bridge down'), PROBE_S * 5000);

    const { client } = makeClient(kam.port, 'tcp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    const err = await call.answered.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CallRejectedError);
    expect((err as CallRejectedError).status).toBe(503);
  });

  it('answers OPTIONS to itself 200, and refuses an INVITE from an address off the trunk allow-list with 403', async () => {
    const a = await backend();
    // Only 127.0.0.2 is "Exotel"; the caller below comes from 127.0.0.3 (and is no backend).
    const kam = await kamailio([a], '127.0.0.2/32');

    const reply = await new Promise<string>((done, fail) => {
      const sock = connect({ host: '127.0.0.1', port: kam.port });
      let got = '';
      const timer = setTimeout(() => {
        sock.destroy();
        fail(new Error(`no reply to OPTIONS: ${JSON.stringify(got)}`));
      }, 5000);
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        got += d;
        if (got.includes('\r\n\r\n')) {
          clearTimeout(timer);
          sock.destroy();
          done(got);
        }
      });
      sock.on('error', fail);
      sock.on('connect', () => {
        const { localPort } = sock;
        sock.write(
          [
            `OPTIONS sip:127.0.0.1:${kam.port};transport=tcp SIP/2.0`,
            `Via: SIP/2.0/TCP 127.0.0.1:${localPort};branch=z9hG4bK-kam-options-1;rport`,
            'Max-Forwards: 70',
            `From: <sip:monitor@127.0.0.1>;tag=opt1`,
            `To: <sip:127.0.0.1:${kam.port}>`,
            'Call-ID: kamailio-options-1@127.0.0.1',
            'CSeq: 1 OPTIONS',
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        );
      });
    });
    expect(reply).toMatch(/^SIP\/2\.0 200 /);

    const { client } = makeClient(kam.port, 'tcp', { customerIp: '127.0.0.3' });
    const call = client.invite({ to: CALLEE, sdp: offer() });
    const err = await call.answered.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CallRejectedError);
    expect((err as CallRejectedError).status).toBe(403);
    expect(await requests(a, 'INVITE')).toHaveLength(0);
    expect(kam.log()).toContain('refused INVITE from 127.0.0.3');
  });
});
