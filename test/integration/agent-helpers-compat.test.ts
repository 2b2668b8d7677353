/**
 * The agent helpers of `exotel-livekit-bridge/agent` with both rtc-node lines, on a real
 * livekit-server and a simulator call. An agent joins the room before the phone and runs the
 * same steps (test/fixtures/compat/agent-flow.ts): it finds the phone with
 * `isBridgeParticipant`, waits on its room's events with `waitForAudioReady`, reads the far
 * end's X- headers with `getCallHeaders` and hangs up with `endCall`; the call ends as
 * `agent-hangup`. rtc-node 0.13 (`rtc-node-013`, the line `@livekit/agents` 1.9 depends on)
 * runs in a child process (two rtc-node copies in one process would share one native FFI
 * client); rtc-node 1.x runs in this process, for comparison.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispose, Room, RoomEvent } from '@livekit/rtc-node';
import { resolve } from 'node:path';
import type { ExotelSimulator } from '../../src/testing/index.js';
import type { BridgeCall } from '../../src/index.js';
import {
  bridge,
  createRoom,
  phoneParticipantGone,
  runCleanups,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually, livekitEnv, mintToken, roomService } from '../harness/livekit.js';
import { spawnManaged } from '../harness/process.js';
import { findPhone, onPhone, type AgentReport, type AgentRoom } from '../fixtures/compat/agent-flow.js';

const root = resolve(import.meta.dirname, '../..');
const AGENT_013 = resolve(root, 'test/fixtures/compat/agent-013.ts');
const HEADERS = { 'X-Exotel-CallSid': 'cs-compat', 'X-Crm-Ticket': 'T-13' };

const cleanups: Cleanups = [];
let sim: ExotelSimulator;

beforeEach(async () => {
  // answered a second after the INVITE: the agent sees the phone before it is active
  sim = await startSim(cleanups, { answerAfterMs: 1000, answerHeaders: HEADERS });
});

afterEach(async () => {
  await runCleanups(cleanups);
});

afterAll(async () => {
  await dispose();
});

async function inRoom(roomName: string, identity: string): Promise<void> {
  await eventually(
    `${identity} in the room`,
    async () => (await roomService().listParticipants(roomName)).some((p) => p.identity === identity),
    20_000,
  );
}

/** The same facts for either line. */
function expectReport(report: AgentReport): void {
  expect(report).toMatchObject({
    identity: 'sip-phone-+919876543210',
    kind: 3, // ParticipantKind.SIP
    statusReady: 'active',
    notPhone: [],
  });
  // found before the answer: waitForAudioReady learnt of "active" from the room's events
  expect(['dialing', 'ringing']).toContain(report.statusFound);
  expect(report.headers).toMatchObject(HEADERS);
}

async function expectAgentHangup(call: BridgeCall, roomName: string): Promise<void> {
  expect((await call.ended).reason).toBe('agent-hangup');
  expect(sim.requests.filter((r) => r.method === 'BYE')).toHaveLength(1);
  await eventually('phone participant gone', () => phoneParticipantGone(roomName));
}

describe('agent helpers (/agent) on a bridged call', () => {
  it('an agent on rtc-node 0.13 (child process) finds the phone, waits for audio, reads headers and hangs up', async () => {
    const roomName = await createRoom(cleanups, 'compat-013');
    const token = await mintToken({ identity: 'agent-013', room: roomName, kind: 'agent' });
    const child = spawnManaged('agent-013', process.execPath, ['--import', 'tsx', AGENT_013], {
      env: { COMPAT_URL: livekitEnv().url, COMPAT_TOKEN: token },
    });
    cleanups.push(() => child.stop(1000));
    await inRoom(roomName, 'agent-013');

    const call = bridge(cleanups, roomName, sim.address.port);
    const { code, signal } = await child.exited;
    const explain = `agent-013 exited ${code ?? signal}\nstdout: ${child.stdout()}\nstderr: ${child.stderr()}`;
    expect(code, explain).toBe(0);
    const line = child
      .stdout()
      .split('\n')
      .find((l) => l.startsWith('COMPAT_RESULT '));
    const out = JSON.parse(line?.slice('COMPAT_RESULT '.length) ?? '{}') as {
      ok: boolean;
      rtcNode: string;
      report: AgentReport;
    };
    expect(out.ok, explain).toBe(true);
    expect(out.rtcNode).toMatch(/^0\.13\./);
    expectReport(out.report);
    await expectAgentHangup(call, roomName);
  });

  it('the same agent on rtc-node 1.x (this process) does the same', async () => {
    const roomName = await createRoom(cleanups, 'compat-1x');
    const room = new Room();
    cleanups.push(() => room.disconnect());
    const agentRoom: AgentRoom = {
      room,
      local: () => room.localParticipant!,
      participants: () => room.remoteParticipants.values(),
      onParticipantConnected: (fn) => room.on(RoomEvent.ParticipantConnected, fn),
    };
    const notPhone: string[] = [];
    const { phone, scan } = findPhone(agentRoom, notPhone);
    await room.connect(
      livekitEnv().url,
      await mintToken({ identity: 'agent-1x', room: roomName, kind: 'agent' }),
      {
        autoSubscribe: false,
        dynacast: false,
      },
    );
    scan();
    await inRoom(roomName, 'agent-1x');

    const call = bridge(cleanups, roomName, sim.address.port);
    expectReport(await onPhone(agentRoom, await phone, notPhone));
    await expectAgentHangup(call, roomName);
  });
});
