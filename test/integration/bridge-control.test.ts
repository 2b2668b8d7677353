/**
 * Call control end to end (real livekit-server, SIPp, the simulator): cold transfer
 * accepted and refused, from the host and from an agent through RPC; hold from the phone
 * for 30 s with no media timeout, and from our side; DTMF on demand and SIP INFO DTMF;
 * and a second process that holds, transfers and hangs up a call it did not place.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Room, RoomEvent, dispose } from '@livekit/rtc-node';
import { fileURLToPath } from 'node:url';
import {
  TransferError,
  hearsAgentsAndPhones,
  warmTransfer,
  type BridgeCall,
  type HoldInfo,
  type TransferInfo,
} from '../../src/index.js';
import { isBridgeParticipant, transferCall, holdCall } from '../../src/entries/agent.js';
import {
  bridge,
  createRoom,
  exotelFor,
  frames20,
  livekitOpts,
  loudPart,
  runCleanups,
  startAgent,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually, livekitEnv, mintToken } from '../harness/livekit.js';
import { spawnManaged } from '../harness/process.js';
import { startSipp } from '../harness/sipp.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  await runCleanups(cleanups);
});
afterAll(async () => {
  await dispose();
});

async function sippCall(scenario: string, extra: Parameters<typeof bridge>[3] = {}, args: string[] = []) {
  const sipp = await startSipp({ scenario, transport: 'tcp', extraArgs: args, timeoutS: 60 });
  cleanups.push(() => sipp.stop());
  const roomName = await createRoom(cleanups, 'ctl');
  const call = bridge(cleanups, roomName, sipp.port, extra);
  await call.answered;
  return { sipp, roomName, call };
}

function track(call: BridgeCall): { transfers: TransferInfo[]; holds: HoldInfo[] } {
  const transfers: TransferInfo[] = [];
  const holds: HoldInfo[] = [];
  call.on('transfer', (t) => transfers.push(t));
  call.on('hold', (h) => holds.push(h));
  return { transfers, holds };
}

/** Runs test/harness/call-controller.ts in its own process; resolves its JSON line and exit code. */
async function controller(
  roomName: string,
  ...args: string[]
): Promise<{ code: number | null; out: Record<string, unknown> }> {
  const lk = livekitEnv();
  const script = fileURLToPath(new URL('../harness/call-controller.ts', import.meta.url));
  const p = spawnManaged(
    'call-controller',
    process.execPath,
    ['--import', 'tsx', script, roomName, ...args],
    {
      env: { LIVEKIT_URL: lk.url, LIVEKIT_API_KEY: lk.apiKey, LIVEKIT_API_SECRET: lk.apiSecret },
    },
  );
  cleanups.push(() => p.stop());
  const { code } = await p.exited;
  const lines = p.stdout().split('\n');
  const line = lines.find((l) => l.startsWith('{"ok"'));
  // connectToCall's room is counted until its close(): nothing may be held after it
  const after = lines.find((l) => l.startsWith('{"afterClose"'));
  if (code !== 2) {
    expect(after, 'the controller reports what is held after close()').toBeDefined();
    const held = Object.entries((JSON.parse(after!) as { afterClose: Record<string, number> }).afterClose);
    expect(held.filter(([, n]) => n !== 0)).toEqual([]);
  }
  return {
    code,
    out: line !== undefined ? (JSON.parse(line) as Record<string, unknown>) : { stderr: p.stderr() },
  };
}

describe('cold transfer (REFER)', () => {
  it('from the host: SIPp accepts (202, NOTIFY 200 sipfrag), we hang up, the call ends transferred', async () => {
    const { sipp, call } = await sippCall('uas-refer-accept.xml');
    const { transfers } = track(call);
    expect(await call.transfer('+919988776655')).toEqual({ status: 200 });
    expect((await call.ended).reason).toBe('transferred');
    expect(transfers.map((t) => t.state)).toEqual(['transferring', 'transferred']);
    expect(await sipp.done()).toBe(0);
    expect(await sipp.messages()).toMatch(/Refer-To: <sip:\+919988776655@127\.0\.0\.1>/);
  });

  it('from an agent through RPC: the same, started with transferCall()', async () => {
    const { sipp, roomName, call } = await sippCall('uas-refer-accept.xml');
    const agent = await startAgent(cleanups, roomName, 1000);
    const phone = await eventually('phone', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    expect(await transferCall(agent.room.localParticipant!, phone.identity, '+919988776655')).toEqual({
      status: 200,
    });
    expect((await call.ended).reason).toBe('transferred');
    expect(await sipp.done()).toBe(0);
  });

  it('refused with 403: transfer() rejects with TransferError 403 and the call goes on', async () => {
    const { sipp, call } = await sippCall('uas-refer-reject.xml');
    const { transfers } = track(call);
    const err = await call.transfer('+919988776655').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ status: 403 });
    expect(transfers.map((t) => t.state)).toEqual(['transferring', 'failed']);
    expect(call.status).not.toBe('hangup');
    await call.hangup();
    expect(await sipp.done()).toBe(0);
  });

  it('a 503 sipfrag, asked by an agent over RPC: the agent gets TransferError 503 and the call goes on', async () => {
    const { sipp, roomName, call } = await sippCall('uas-refer-fail-notify.xml');
    const agent = await startAgent(cleanups, roomName, 1000);
    const phone = await eventually('phone', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    const err = await transferCall(agent.room.localParticipant!, phone.identity, '+919988776655').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ status: 503 });
    await eventually('failed attribute', () =>
      phone.attributes['sip.transferStatus'] === 'failed' ? true : undefined,
    );
    expect(call.status).not.toBe('hangup');
    await call.hangup();
    expect(await sipp.done()).toBe(0);
  });
});

describe('who may control a call', () => {
  it('a standard participant without the call-control attribute is refused (no REFER sent); an agent is not', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'perm');
    const call = bridge(cleanups, roomName, sim.address.port);
    await call.answered;
    const web = new Room();
    await web.connect(
      livekitEnv().url,
      await mintToken({ identity: 'web-user', room: roomName, kind: 'standard' }),
      { autoSubscribe: false, dynacast: false },
    );
    cleanups.push(() => web.disconnect());
    const phone = await eventually('phone', () =>
      [...web.remoteParticipants.values()].find(isBridgeParticipant),
    );
    const err = await transferCall(web.localParticipant!, phone.identity, '+919988776655').catch(
      (e: unknown) => e,
    );
    expect(String((err as Error).message)).toMatch(/may not control this call/);
    expect(sim.requests.some((r) => r.method === 'REFER')).toBe(false);
    const agent = await startAgent(cleanups, roomName, 1000);
    const p2 = await eventually('phone', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    await holdCall(agent.room.localParticipant!, p2.identity, true);
    expect(sim.calls[0]!.reinvites.map((r) => r.direction)).toEqual(['recvonly']);
  });
});

describe('hold', () => {
  it('SIPp holds for 30 s with a=inactive: no media timeout (5 s), the room sees sip.hold=phone, then resume and BYE', async () => {
    const { sipp, roomName, call } = await sippCall(
      'uas-hold.xml',
      { timeouts: { mediaMs: 5000, noMediaMs: 5000 } },
      ['-d', '30000'],
    );
    const { holds } = track(call);
    const agent = await startAgent(cleanups, roomName, 1000);
    const phone = await eventually('phone', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    await eventually('held', () => (phone.attributes['sip.hold'] === 'phone' ? true : undefined));
    const ended = await call.ended;
    expect(ended.reason).toBe('phone-hangup');
    expect(holds).toEqual([
      { held: true, by: 'phone' },
      { held: false, by: 'host' },
    ]);
    expect(await sipp.done()).toBe(0);
  }, 60_000);

  it('from our side: the simulator is sent a=sendonly (answers recvonly) and stops hearing the agent; resume brings it back', async () => {
    const sim = await startSim(cleanups, { play: { toneHz: 440, amplitude: 8000 } });
    const roomName = await createRoom(cleanups, 'hold');
    await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port);
    const { holds } = track(call);
    await call.answered;
    const simCall = sim.calls[0]!;
    await eventually('agent heard', () =>
      loudPart(frames20(simCall.heard())).length > 8000 ? true : undefined,
    );
    await call.hold();
    expect(simCall.reinvites.map((r) => r.direction)).toEqual(['recvonly']);
    const atHold = loudPart(frames20(simCall.heard())).length;
    await new Promise((r) => setTimeout(r, 1500));
    // At most the frames already in flight: no agent audio while held.
    expect(loudPart(frames20(simCall.heard())).length - atHold).toBeLessThan(1600);
    await call.resume();
    expect(simCall.reinvites.map((r) => r.direction)).toEqual(['recvonly', 'sendrecv']);
    const atResume = loudPart(frames20(simCall.heard())).length;
    await eventually('agent heard again', () =>
      loudPart(frames20(simCall.heard())).length > atResume + 8000 ? true : undefined,
    );
    expect(holds).toEqual([
      { held: true, by: 'host' },
      { held: false, by: 'host' },
    ]);
  });
});

describe('DTMF', () => {
  it("sendDtmf('12#w3') reaches the far end in order; the dtmf option goes out after the answer with sip.callStatus automation", async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'dtmf');
    const call = bridge(cleanups, roomName, sim.address.port, { dtmf: '9w8' });
    const statuses: string[] = [];
    call.on('status', (s) => statuses.push(s));
    await call.answered;
    const simCall = sim.calls[0]!;
    await eventually('option digits', () => (simCall.dtmf.join('') === '98' ? true : undefined), 10_000);
    expect(statuses).toContain('automation');
    await call.sendDtmf('12#w3');
    await eventually('digits', () => (simCall.dtmf.join('') === '9812#3' ? true : undefined), 10_000);
  });

  it('SIP INFO DTMF from SIPp (1, 2, #) reaches the agent as LiveKit DTMF', async () => {
    const { sipp, roomName, call } = await sippCall('uas-info-dtmf.xml');
    const agent = await startAgent(cleanups, roomName, 1000);
    const digits: string[] = [];
    agent.room.on(RoomEvent.DtmfReceived, (_code, digit) => digits.push(digit));
    await call.ended;
    expect(await sipp.done()).toBe(0);
    await eventually('digits', () => (digits.join('') === '12#' ? true : undefined));
  });
});

describe('control from another process', () => {
  it('a second process holds, resumes and hangs up a simulator call through LiveKit only', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'remote');
    const call = bridge(cleanups, roomName, sim.address.port);
    await call.answered;
    const simCall = sim.calls[0]!;
    const held = await controller(roomName, 'hold');
    expect(held.out, JSON.stringify(held.out)).toMatchObject({ ok: true });
    expect(simCall.reinvites.map((r) => r.direction)).toEqual(['recvonly']);
    expect((await controller(roomName, 'resume')).out).toMatchObject({ ok: true });
    expect(simCall.reinvites.map((r) => r.direction)).toEqual(['recvonly', 'sendrecv']);
    const hangup = await controller(roomName, 'hangup');
    expect(hangup).toMatchObject({ code: 0, out: { ok: true } });
    expect((await call.ended).reason).toBe('agent-hangup');
  });

  it('a second process transfers a SIPp call', async () => {
    const { sipp, roomName, call } = await sippCall('uas-refer-accept.xml');
    const r = await controller(roomName, 'transfer', '+919988776655');
    expect(r, JSON.stringify(r)).toMatchObject({ code: 0, out: { ok: true, result: { status: 200 } } });
    expect((await call.ended).reason).toBe('transferred');
    expect(await sipp.done()).toBe(0);
  });
});

describe('warm transfer', () => {
  it('a second phone joins the room; after the agent leaves, the caller and the human hear each other', async () => {
    const HUMAN = '+919999900001';
    const sim = new ExotelSimulator({
      host: '127.0.0.1',
      behaviour: (invite) => ({
        ringAfterMs: 50,
        answerAfterMs: 150,
        play: { toneHz: invite.uri.includes(HUMAN.slice(1)) ? 700 : 440, amplitude: 8000 },
      }),
    });
    await sim.start();
    cleanups.push(() => sim.close());
    const roomName = await createRoom(cleanups, 'warm');
    const agent = await startAgent(cleanups, roomName, 1000);
    const caller = bridge(cleanups, roomName, sim.address.port, {
      isAgent: hearsAgentsAndPhones,
      timeouts: { agentGoneMs: 1000 },
    });
    await caller.answered;
    const human = warmTransfer({
      roomName,
      to: HUMAN,
      livekit: livekitOpts(),
      exotel: exotelFor(sim.address.port),
      env: {},
      timeouts: { agentGoneMs: 1000 },
    });
    cleanups.push(() => human.hangup());
    await human.answered;
    // The agent briefs the human (both phones hear it), then leaves.
    const [callerSim, humanSim] = [sim.calls[0]!, sim.calls[1]!];
    await eventually('both hear the agent', () =>
      loudPart(frames20(callerSim.heard())).length > 8000 &&
      loudPart(frames20(humanSim.heard())).length > 8000
        ? true
        : undefined,
    );
    await agent.room.disconnect();
    const [c0, h0] = [callerSim.heard().length, humanSim.heard().length];
    await eventually(
      'two seconds after the agent left',
      () =>
        callerSim.heard().length > c0 + 20_000 && humanSim.heard().length > h0 + 20_000 ? true : undefined,
      15_000,
    );
    const tones = [300, 440, 700, 1000, 2000];
    expect(dominantFrequency(loudPart(frames20(callerSim.heard().slice(c0 + 8000))), 8000, tones)).toBe(700);
    expect(dominantFrequency(loudPart(frames20(humanSim.heard().slice(h0 + 8000))), 8000, tones)).toBe(440);
    expect(caller.status).toBe('active');
    expect(human.status).toBe('active');
    // The caller hangs up: the human's call ends once nobody it hears is left.
    await callerSim.hangup();
    expect((await caller.ended).reason).toBe('phone-hangup');
    expect((await human.ended).reason).toBe('agent-left');
  });
});
