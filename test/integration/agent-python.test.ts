/**
 * The participant contract, proved by an agent that is not ours: examples/agent.py, written
 * with LiveKit's Python SDK (most LiveKit agents are Python), joins a room where runBridge
 * has placed a simulator call. It finds the phone as any LiveKit agent would (kind SIP,
 * `sip.callStatus == "active"`), greets it with 1 kHz, checks that it hears the far end's
 * 440 Hz, and hangs up with `lk.sip.EndCall`.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import type { ExotelSimulator } from '../../src/testing/index.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import {
  bridge,
  createRoom,
  frames20,
  loudPart,
  phoneParticipantGone,
  runCleanups,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually, livekitEnv, mintToken, roomService } from '../harness/livekit.js';
import { pythonAgentPath, runPythonAgent, type PythonAgentRun } from '../harness/python-agent.js';

const PROBES = [300, 440, 700, 1000, 2000];
const cleanups: Cleanups = [];
let sim: ExotelSimulator;

beforeEach(async () => {
  pythonAgentPath(); // a missing venv fails here, with how to make it
  sim = await startSim(cleanups); // the far end says 440 Hz
});

afterEach(async () => {
  await runCleanups(cleanups);
});

afterAll(async () => {
  await dispose();
});

/** Starts agent.py in `roomName` with an agent-kind token; `done` resolves when it exits. */
async function pythonAgent(roomName: string, args: string[]): Promise<{ done: Promise<PythonAgentRun> }> {
  const token = await mintToken({ identity: 'py-agent', room: roomName, kind: 'agent' });
  const run = runPythonAgent(
    ['--url', livekitEnv().url, '--token', token, '--timeout', '20', ...args],
    30_000,
  );
  cleanups.push(() => run.stop());
  return { done: run.done };
}

function explain(r: PythonAgentRun): string {
  return `agent.py exited ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

describe('a Python agent (LiveKit Python SDK) on a bridged call', () => {
  it('sees kind SIP and sip.callStatus active, hears 440 Hz, is heard at 1 kHz, and ends the call with lk.sip.EndCall', async () => {
    const roomName = await createRoom(cleanups, 'py-agent');
    // The agent is in the room before the phone joins ("dialing"): it must learn of the
    // phone and of "active" from the SDK's events.
    const agent = await pythonAgent(roomName, ['--hangup']);
    await eventually('py-agent in the room', async () =>
      (await roomService().listParticipants(roomName)).some((p) => p.identity === 'py-agent'),
    );
    const call = bridge(cleanups, roomName, sim.address.port);
    const run = await agent.done;
    expect(run.code, explain(run)).toBe(0);
    // It saw the phone before the answer, then "active" arrived as an attribute change.
    expect(run.stderr).toMatch(/sip-phone-\+919876543210: sip\.callStatus=(dialing|ringing)\n/);

    const answered = await call.answered;
    expect(run.report).toMatchObject({
      phone: 'sip-phone-+919876543210',
      kind: 'SIP',
      callStatus: 'active',
      heard_hz: 440,
      ok: true,
    });
    expect(run.report!.attributes).toMatchObject({
      'sip.callID': call.callId,
      'sip.callIDFull': answered.sipCallId,
      'sip.callStatus': 'active',
      'sip.phoneNumber': '+919876543210',
      'sip.trunkPhoneNumber': '08044319240',
      'sip.hostname': '127.0.0.1',
    });

    const heard = loudPart(frames20(sim.calls[0]!.heard()));
    expect(heard.length, 'the far end heard at least 1 s of the agent').toBeGreaterThanOrEqual(8000);
    expect(dominantFrequency(heard, 8000, PROBES)).toBe(1000);

    expect((await call.ended).reason).toBe('agent-hangup');
    expect(sim.requests.filter((r) => r.method === 'BYE')).toHaveLength(1);
    await eventually('phone participant gone', () => phoneParticipantGone(roomName));
  });

  it('fails its check when the phone does not say what it expects (exit 1, ok false)', async () => {
    const roomName = await createRoom(cleanups, 'py-agent');
    const call = bridge(cleanups, roomName, sim.address.port);
    await call.answered;
    // The phone is already active when the agent joins: found by its first look at the room.
    const agent = await pythonAgent(roomName, ['--expect-hz', '2000', '--listen-seconds', '1']);
    const run = await agent.done;
    expect(run.code, explain(run)).toBe(1);
    expect(run.report).toMatchObject({ kind: 'SIP', callStatus: 'active', heard_hz: 440, ok: false });
  });

  it('gives up with a clear message when no phone becomes active (exit 2)', async () => {
    const roomName = await createRoom(cleanups, 'py-agent');
    const agent = await pythonAgent(roomName, ['--timeout', '2']);
    const run = await agent.done;
    expect(run.code, explain(run)).toBe(2);
    expect(run.report).toBeUndefined();
    expect(run.stderr).toContain(
      'agent.py: timed out after 2 s while waiting for a SIP participant with sip.callStatus=active',
    );
  });
});
