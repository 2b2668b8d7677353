/**
 * The examples, run as a user runs them: `npx tsx examples/<name>.ts …` in a child process
 * (its own process group, bounded by a timeout, killed in cleanup), configured only by flags
 * and the documented LIVEKIT_* / EXOTEL_* variables, against the test livekit-server and an
 * Exotel simulator started here. Each must exit by itself (exit code 0, no kill needed),
 * with both directions of its call heard; each rejects an unknown flag with exit code 2 and
 * its usage line. The call processes print none of rtc-node's own JSON log lines (`lk-rtc`,
 * src/livekit/rtc-log.ts) on stdout; a control shows that rtc-node alone does print them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dispose } from '@livekit/rtc-node';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import {
  bridge,
  createRoom,
  exotelFor,
  frames20,
  loudPart,
  runCleanups,
  startAgent,
  startSim,
  type Cleanups,
  type TestAgent,
} from '../harness/e2e.js';
import { eventually, livekitEnv } from '../harness/livekit.js';

const root = resolve(import.meta.dirname, '../..');
const PROBES = [300, 440, 700, 1000, 2000];
/** What rtc-node's pino logger prints (`{"level":20,…,"name":"lk-rtc",…}`). */
const RTC_LOG_LINE = /^\{"level":\d+.*"name":"lk-rtc"/m;
const cleanups: Cleanups = [];

afterEach(async () => {
  await runCleanups(cleanups);
});

afterAll(async () => {
  await dispose(); // the test agents' rtc-node
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The timeout had to kill it: it did not exit by itself. */
  killed: boolean;
}

interface ExampleRun {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<Exit>;
  /** The first match of `re` in stdout; rejects if the process exits without one. */
  line(re: RegExp): Promise<RegExpExecArray>;
  /** Sends `signal` to the example's own node process (npx and tsx's parent are left alone). */
  signal(signal: NodeJS.Signals): void;
}

/**
 * A user's environment (no LIVEKIT_*, EXOTEL_* or NODE_ENV of the test run) plus `extra`.
 * rtc-node logs at `debug` unless NODE_ENV is `production`: left unset, as in a shell.
 */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('LIVEKIT_') || k.startsWith('EXOTEL_') || k === 'NODE_ENV') delete env[k];
  const lk = livekitEnv();
  return {
    ...env,
    LIVEKIT_URL: lk.url,
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    ...extra,
  };
}

/** The EXOTEL_* variables that point the bridge at the simulator on `port`. */
function exotelEnv(port: number): Record<string, string> {
  const e = exotelFor(port);
  return {
    EXOTEL_SIP_HOST: e.sipHost!,
    EXOTEL_SIP_PORT: String(e.sipPort),
    EXOTEL_SIP_TRANSPORT: e.transport!,
    EXOTEL_CUSTOMER_IP: e.customerIp!,
    EXOTEL_CUSTOMER_SIP_PORT: String(e.customerSipPort),
    EXOTEL_MEDIA_IP: e.mediaIp!,
    EXOTEL_CALLER_ID: e.callerId!,
    EXOTEL_FROM_DOMAIN: e.fromDomain!,
  };
}

/** Runs `npx tsx examples/<name>.ts ...args`; killed (with its group) after `timeoutMs` or in cleanup. */
function runExample(name: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000): ExampleRun {
  return runNpx(`examples/${name}.ts`, ['tsx', `examples/${name}.ts`, ...args], env, timeoutMs);
}

/** `npx ...args` in the repository; `script` names the process in messages and for `signal()`. */
function runNpx(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): ExampleRun {
  const child = spawn('npx', args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npx, tsx and node are killed together
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  let killed = false;
  let running = true;
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // ESRCH: the group is gone already
    }
  };
  const timer = setTimeout(() => {
    killed = true;
    killGroup();
  }, timeoutMs);
  const exited = new Promise<Exit>((done) =>
    child.once('close', (code, signal) => {
      running = false;
      clearTimeout(timer);
      for (const w of waiters) w();
      done({ code, signal, killed });
    }),
  );
  cleanups.push(() => {
    clearTimeout(timer);
    if (running) killGroup();
    return exited;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line(re) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m !== null) {
            waiters.delete(check);
            resolve(m);
          } else if (!running) {
            waiters.delete(check);
            reject(new Error(`${script} exited without ${re}\nstdout: ${out}\nstderr: ${err}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    signal(sig) {
      process.kill(examplePid(child.pid!, script), sig);
    },
  };
}

/** The deepest process under `top` whose command line runs `script`: the example's node. */
function examplePid(top: number, script: string): number {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  let pid = top;
  for (;;) {
    const next = table.find((p) => p.ppid === pid && p.args.includes(script));
    if (next === undefined) return pid;
    pid = next.pid;
  }
}

function explain(run: ExampleRun, exit?: Exit): string {
  return `exit ${JSON.stringify(exit)}\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`;
}

/** The dominant probe tone of what was heard (at least `minMs` of it loud). */
function toneOf(pcm: Int16Array, minMs = 500): number {
  const loud = loudPart(frames20(pcm));
  expect(loud.length, 'enough loud audio').toBeGreaterThanOrEqual(minMs * 8);
  return dominantFrequency(loud, 8000, PROBES);
}

function heardByAgent(agent: TestAgent): Int16Array {
  return loudPart(agent.heard);
}

/** One HTTP request with a raw path (no URL normalisation): status, headers and JSON body. */
function http(
  base: string,
  method: string,
  path: string,
  body?: string | string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    for (const chunk of Array.isArray(body) ? body : body === undefined ? [] : [body]) req.write(chunk);
    req.end();
  });
}

function noRtcLog(run: ExampleRun): void {
  expect(run.stdout(), 'rtc-node JSON on stdout').not.toMatch(RTC_LOG_LINE);
  expect(run.stdout()).not.toContain('lk-rtc');
}

describe('examples/outbound.ts', () => {
  it('places one call, both directions heard, and exits 0 by itself when the phone hangs up', async () => {
    const sim = await startSim(cleanups, { hangupAfterMs: 5000 });
    const run = runExample(
      'outbound',
      ['--phone', '+919876543210', '--agent-type', 'test', '--agent-name', 'test-agent'],
      userEnv(exotelEnv(sim.address.port)),
    );
    const [, roomName] = await run.line(/^room (\S+): calling \+919876543210$/m);
    const agent = await startAgent(cleanups, roomName!, 1000);
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });

    const out = run.stdout();
    expect(out).toContain('sip.callStatus = ringing');
    expect(out).toMatch(/^answered: PCM[AU] from 127\.0\.0\.1:\d+$/m);
    expect(out).toContain('sip.callStatus = active');
    expect(out).toMatch(/^ended: phone-hangup, talked \d+ ms$/m);
    const inbound = /^phone → room: (\d+) RTP packets \(\d+\.\d % lost\), (\d+) frames$/m.exec(out);
    const outbound = /^room → phone: (\d+) RTP packets$/m.exec(out);
    expect(Number(inbound?.[1]), out).toBeGreaterThan(100);
    expect(Number(inbound?.[2]), out).toBeGreaterThan(100);
    expect(Number(outbound?.[1]), out).toBeGreaterThan(100);
    expect(toneOf(heardByAgent(agent)), 'the agent heard the phone').toBe(440);
    expect(toneOf(sim.calls[0]!.heard()), 'the phone heard the agent').toBe(1000);
    expect(sim.calls).toHaveLength(1);
    noRtcLog(run);
  }, 120_000);
});

describe('examples/inbound.ts', () => {
  it('--calls 1: takes one call into its own room, both directions heard, then exits 0 by itself', async () => {
    const sim = await startSim(cleanups);
    const run = runExample(
      'inbound',
      ['--calls', '1', '--agent-name', 'test-agent', '--agent-type', 'test'],
      userEnv(exotelEnv(sim.address.port)), // INVITEs from EXOTEL_SIP_HOST (127.0.0.1) are let in
    );
    const [, port] = await run.line(/^taking calls on SIP port (\d+)$/m);
    const call = sim.callIn({
      target: { host: '127.0.0.1', port: Number(port) },
      from: '+919876543210',
      to: '08044319240',
      hangupAfterMs: 5000,
    });
    const [, roomName] = await run.line(/^call from \+919876543210 in room (test-inbound-3210-\S+)$/m);
    const agent = await startAgent(cleanups, roomName!, 1000);
    expect((await call.answered).status).toBe(200);
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });

    const out = run.stdout();
    expect(out).toMatch(/^call from \+919876543210 ended: phone-hangup, talked \d+ ms$/m);
    expect(out).toContain('1 call(s) taken: draining 0 call(s)');
    expect(out).toMatch(/^stopped$/m);
    expect(toneOf(heardByAgent(agent)), 'the agent heard the caller').toBe(440);
    expect(toneOf(call.heard()), 'the caller heard the agent').toBe(1000);
    noRtcLog(run);
  }, 120_000);

  it('SIGTERM with no call: drains nothing and exits 0', async () => {
    const sim = await startSim(cleanups);
    const run = runExample('inbound', [], userEnv(exotelEnv(sim.address.port)));
    await run.line(/^taking calls on SIP port \d+$/m);
    run.signal('SIGTERM');
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });
    expect(run.stdout()).toContain('SIGTERM: draining 0 call(s)');
    expect(run.stdout()).toMatch(/^stopped$/m);
  }, 60_000);
});

describe('examples/server.ts', () => {
  it('answers malformed requests with 4xx JSON, places a real call, and drains on SIGTERM to exit 0', async () => {
    const sim = await startSim(cleanups);
    const run = runExample(
      'server',
      ['--port', '0', '--agent-name', 'test-agent', '--drain-timeout', '1000'],
      userEnv(exotelEnv(sim.address.port)),
    );
    const [, base] = await run.line(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
    const json = { 'content-type': 'application/json' };
    const bad: [string, string, string | string[] | undefined, number, RegExp][] = [
      ['GET', '/%E0%A4%A', undefined, 400, /malformed URL/],
      ['POST', '/api/hangup/%E0%A4%A', undefined, 400, /malformed URL/],
      ['GET', '/', undefined, 404, /not found/],
      ['GET', '/api/makeCall/extra', undefined, 404, /not found/],
      ['POST', '/api/hangup/no-such-room', undefined, 404, /no such call/],
      ['GET', '/api/makeCall', undefined, 405, /use POST/],
      ['DELETE', '/api/calls', undefined, 405, /use GET/],
      ['POST', '/api/makeCall', '{"phone_number": ', 400, /not JSON/],
      ['POST', '/api/makeCall', '', 400, /not JSON/],
      ['POST', '/api/makeCall', 'x'.repeat(5000), 413, /over 4096 bytes/],
      ['POST', '/api/makeCall', ['{"a": "', 'y'.repeat(3000), 'y'.repeat(3000), '"}'], 413, /over 4096/],
      ['POST', '/api/makeCall', '[1, 2]', 422, /JSON object/],
      ['POST', '/api/makeCall', 'null', 422, /JSON object/],
      ['POST', '/api/makeCall', '{}', 422, /phone_number is required/],
      ['POST', '/api/makeCall', '{"phone_number": 919876543210}', 422, /phone_number is required/],
      ['POST', '/api/makeCall', '{"phone_number": "call me"}', 422, /not allowed/],
      ['POST', '/api/makeCall', '{"phone_number": "12"}', 422, /phone number/],
      ['POST', '/api/makeCall', '{"phone_number": "+919876543210", "agent_type": 7}', 422, /agent_type/],
      ['POST', '/api/makeCall', '{"phone_number": "+919876543210", "agent_type": "a-b"}', 422, /agentType/],
    ];
    for (const [method, path, body, status, error] of bad) {
      // An array body goes out in chunks without a Content-Length (chunked encoding).
      const headers = Array.isArray(body) ? { ...json, 'transfer-encoding': 'chunked' } : json;
      const res = await http(base!, method, path, body, headers);
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
      expect((res.json as { error: string }).error, `${method} ${path}`).toMatch(error);
      if (status === 405) expect(res.headers.allow).toBe(method === 'GET' ? 'POST' : 'GET');
    }
    expect(sim.calls, 'no call was placed by a refused request').toHaveLength(0);
    expect(run.child.exitCode, 'still serving').toBeNull();
    expect((await http(base!, 'GET', '/api/calls')).json).toEqual([]);

    const placed = await http(
      base!,
      'POST',
      '/api/makeCall',
      '{"phone_number": "+919876543210", "agent_type": "test"}',
      json,
    );
    expect(placed.status).toBe(200);
    const { data } = placed.json as { data: { room: string; call_to_phone_number: string } };
    expect(data.call_to_phone_number).toBe('+919876543210');
    expect(data.room).toMatch(/^test-outbound-3210-/);
    const agent = await startAgent(cleanups, data.room, 1000);
    await eventually(
      'both directions heard',
      () =>
        heardByAgent(agent).length >= 8000 &&
        loudPart(frames20(sim.calls[0]?.heard() ?? new Int16Array())).length >= 8000,
      20_000,
    );
    const calls = (await http(base!, 'GET', '/api/calls')).json as { room: string; status: string }[];
    expect(calls).toMatchObject([{ room: data.room, status: 'active' }]);

    run.signal('SIGTERM'); // the call is still up: drained for 1 s, then hung up
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });
    const out = run.stdout();
    expect(out).toContain('SIGTERM: draining 1 call(s), up to 1000 ms');
    expect(out).toMatch(/^stopped$/m);
    expect(toneOf(heardByAgent(agent)), 'the agent heard the phone').toBe(440);
    expect(toneOf(sim.calls[0]!.heard()), 'the phone heard the agent').toBe(1000);
    expect((await sim.calls[0]!.ended).by, 'the bridge (the caller) sent the BYE').toBe('caller');
    expect(sim.requests.filter((r) => r.method === 'BYE')).toHaveLength(1);
    expect(sim.calls).toHaveLength(1);
    expect(run.stderr()).not.toContain('request failed');
    noRtcLog(run);
  }, 120_000);
});

describe('examples/agent.ts', () => {
  it('finds the phone, greets it, hears it, hangs up with lk.sip.EndCall, and exits 0 by itself', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'example-agent');
    const run = runExample(
      'agent',
      ['--room', roomName, '--tone', '1000', '--listen', '2000', '--hangup', '--timeout', '30'],
      userEnv({}),
    );
    await run.line(/^joined room \S+ as example-agent$/m); // the agent is there before the phone
    const call = bridge(cleanups, roomName, sim.address.port);
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });
    const out = run.stdout();
    expect(out).toContain('phone participant sip-phone-+919876543210 joined');
    expect(out).toContain('audio ready: greeting with 1000 Hz for 2000 ms');
    expect(out).toMatch(/^heard 440 Hz from the phone \(\d+ ms\)$/m);
    expect(out).toContain('hung up (lk.sip.EndCall)');
    expect((await call.ended).reason).toBe('agent-hangup');
    expect(toneOf(sim.calls[0]!.heard()), 'the phone heard the agent').toBe(1000);
  }, 120_000);
});

describe('examples/record.ts', () => {
  it('--simulate: records both directions to a two-channel WAV and exits 0 by itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'record-example-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const out = join(dir, 'call.wav');
    const run = runExample(
      'record',
      ['--simulate', '--seconds', '4', '--out', out, '--agent-name', 'test-agent', '--agent-type', 'test'],
      userEnv({}), // LIVEKIT_* only: the trunk is the example's own simulator
    );
    const [, roomName] = await run.line(/^room (\S+): calling \+919876543210$/m);
    await startAgent(cleanups, roomName!, 1000);
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });
    expect(run.stdout()).toMatch(/^simulated Exotel trunk on 127\.0\.0\.1:\d+$/m);
    expect(run.stdout()).toMatch(/^ended: max-duration, talked \d+ ms$/m);
    expect(run.stdout()).toMatch(
      /^wrote .*call\.wav: \d+\.\d s, left \(phone\) 440 Hz, right \(room\) 1000 Hz$/m,
    );
    noRtcLog(run);

    const wav = await readFile(out);
    expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
    expect(wav.toString('latin1', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt16LE(22), 'channels').toBe(2);
    expect(wav.readUInt32LE(24), 'rate').toBe(8000);
    const samples = new Int16Array(wav.buffer, wav.byteOffset + 44, (wav.length - 44) / 2);
    const left = samples.filter((_, i) => i % 2 === 0);
    const right = samples.filter((_, i) => i % 2 === 1);
    expect(left.length / 8000, 'seconds recorded').toBeGreaterThanOrEqual(3.5);
    expect(toneOf(left), 'left: the phone').toBe(440);
    expect(toneOf(right), 'right: the room').toBe(1000);
  }, 120_000);
});

describe('every example', () => {
  const NAMES = ['outbound', 'inbound', 'server', 'agent', 'record'];

  it.each(NAMES)(
    '%s.ts imports only package entries and dependencies, never ../src or ../scripts',
    async (name) => {
      const source = await readFile(join(root, 'examples', `${name}.ts`), 'utf8');
      const specifiers = [...source.matchAll(/^import [^;]*? from '([^']+)';$/gms)].map((m) => m[1]!);
      expect(specifiers.length).toBeGreaterThan(0);
      for (const s of specifiers)
        expect(s, name).toMatch(
          /^(node:\w+|exotel-livekit-bridge(\/(agent|media|testing))?|@livekit\/rtc-node|livekit-server-sdk)$/,
        );
    },
  );

  it.each(NAMES)(
    '%s.ts rejects an unknown flag: exit 2 and its usage line',
    async (name) => {
      const run = runExample(name, ['--no-such-flag'], userEnv({}), 60_000);
      const exit = await run.exited;
      expect(exit, explain(run, exit)).toEqual({ code: 2, signal: null, killed: false });
      expect(run.stderr()).toContain("Unknown option '--no-such-flag'");
      expect(run.stderr()).toContain(`usage: npx tsx examples/${name}.ts`);
    },
    60_000,
  );

  it.each(NAMES)(
    '%s.ts rejects a flag without its value: exit 2 and its usage line',
    async (name) => {
      const flag = {
        outbound: '--phone',
        inbound: '--calls',
        server: '--port',
        agent: '--room',
        record: '--out',
      }[name]!;
      const run = runExample(name, [flag], userEnv({}), 60_000);
      const exit = await run.exited;
      expect(exit, explain(run, exit)).toEqual({ code: 2, signal: null, killed: false });
      expect(run.stderr()).toContain(`argument missing`);
      expect(run.stderr()).toContain(`usage: npx tsx examples/${name}.ts`);
    },
    60_000,
  );
});

describe("rtc-node's own logging (control)", () => {
  it('a process that joins a room with rtc-node alone prints lk-rtc JSON on stdout (what the call processes above do not)', async () => {
    const roomName = await createRoom(cleanups, 'rtc-log');
    const { url, apiKey, apiSecret } = livekitEnv();
    const script = [
      "import { Room, dispose } from '@livekit/rtc-node';",
      "import { AccessToken } from 'livekit-server-sdk';",
      `const at = new AccessToken(${JSON.stringify(apiKey)}, ${JSON.stringify(apiSecret)}, { identity: 'rtc-log-control' });`,
      `at.addGrant({ roomJoin: true, room: ${JSON.stringify(roomName)} });`,
      'const room = new Room();',
      `await room.connect(${JSON.stringify(url)}, await at.toJwt());`,
      'await room.disconnect();',
      'await dispose();',
    ].join('\n');
    const run = runNpx('the control', ['tsx', '--input-type=module', '-e', script], userEnv({}), 60_000);
    const exit = await run.exited;
    expect(exit, explain(run, exit)).toEqual({ code: 0, signal: null, killed: false });
    const stdout = run.stdout();
    expect(stdout).toMatch(RTC_LOG_LINE);
    expect(stdout).toContain('"msg":"Connect callback received"');
  }, 60_000);
});
