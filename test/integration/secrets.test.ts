/**
 * Secrets never reach the logs (SECURITY.md): a full call — digest challenge, answer,
 * media, a failed call with wrong credentials, the end — logged at debug level through
 * the injectable logger, and the captured records (messages, bindings and objects,
 * serialized) searched for the LiveKit API secret, the digest password and any JWT.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { createMemoryLogger, runBridge, type LogRecord } from '../../src/index.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { RoomServiceClient } from 'livekit-server-sdk';
import { eventually, uniqueRoom } from '../harness/livekit.js';
import { startLiveKitServer } from '../harness/livekit-server.js';

afterAll(async () => {
  await dispose();
});

it('neither the API secret, the digest password nor a token appears in debug-level logs', async () => {
  // A private server whose secret is a string no log line could contain by chance.
  const apiSecret = 'lk-S3cr3t-' + 'q7Zp2XwLm9Rv4Tb8Yc1Nd6Hf3Jk0Gs5e';
  const server = await startLiveKitServer({ keys: { apiKey: 'secretskey', apiSecret } });
  const password = 'Dig3st-Pa55-' + 'x9V2mQ7rT4';
  const sim = new ExotelSimulator({
    host: '127.0.0.1',
    auth: { realm: 'exotel.test', username: 'acme', password },
    behaviour: { answerAfterMs: 50 },
  });
  await sim.start();
  const records: LogRecord[] = [];
  const logger = createMemoryLogger(records);
  try {
    const rooms = new RoomServiceClient(server.httpUrl, 'secretskey', apiSecret);
    const roomName = uniqueRoom('secrets');
    await rooms.createRoom({ name: roomName });
    const base = {
      roomName,
      phoneNumber: '+919876543210',
      livekit: { url: server.url, apiKey: 'secretskey', apiSecret },
      env: {},
      logger,
      statsLogIntervalMs: 200,
    };
    const exotel = {
      sipHost: '127.0.0.1',
      sipPort: sim.address.port,
      customerIp: '127.0.0.1',
      customerSipPort: 0,
      callerId: '08044319240',
      fromDomain: 'test.sip.exotel.com',
    };
    const call = runBridge({ ...base, exotel: { ...exotel, auth: { username: 'acme', password } } });
    await call.answered;
    await eventually('active', () => call.status === 'active', 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const ended = await call.hangup();
    // A second call with a wrong password: refused, and its error is logged too.
    const bad = runBridge({
      ...base,
      exotel: { ...exotel, auth: { username: 'acme', password: password + '-wrong' } },
    });
    const badEnded = await bad.ended;
    expect(badEnded).toMatchObject({ reason: 'rejected', sipStatus: 403 });

    const text =
      JSON.stringify(
        records.map((r) => ({ ...r, obj: r.obj === undefined ? undefined : serialize(r.obj) })),
      ) + JSON.stringify({ ended, badEnded: { ...badEnded, error: String(badEnded.error) } });
    expect(records.length).toBeGreaterThan(20);
    expect(records.some((r) => r.level === 'debug')).toBe(true);
    // The Authorization header was sent (the simulator verified it) but is not in the logs.
    expect(sim.requests.some((r) => r.message.headers.get('Authorization') !== undefined)).toBe(true);
    expect(text).not.toContain(apiSecret);
    expect(text).not.toContain(password);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // a JWT
    expect(text).not.toMatch(/response="[0-9a-f]{32}"/); // a digest response
  } finally {
    await sim.close();
    await server.stop();
  }
}, 60_000);

function serialize(obj: unknown): unknown {
  return JSON.parse(
    JSON.stringify(obj, (_k, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message, cause: String(v.cause) } : v,
    ),
  );
}

it('nothing the native layer prints carries a token: a refused join (the server echoes the token) leaves stderr clean', async () => {
  const apiSecret = 'lk-S3cr3t-' + 'Wm4Qx8Tz1Rb6Yn3Kp0Vd7Hs2Lc5Fg9Ja';
  const server = await startLiveKitServer({ keys: { apiKey: 'stderrkey', apiSecret } });
  try {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      NATIVE_STDERR_LK: JSON.stringify({
        url: server.url,
        httpUrl: server.httpUrl,
        apiKey: 'stderrkey',
        apiSecret,
      }),
    };
    delete env.RUST_LOG;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(root, 'test/fixtures/scripts/native-stderr-child.ts')],
        {
          cwd: root,
          env,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    // the refused join ended the call; the bridge initialised the native layer quietly, so
    // log records are not even made, and the host's environment is as it was
    expect(result).toEqual({
      bad: 'livekit-disconnected',
      good: 'host-hangup',
      captureLogs: false,
      rustLog: null,
    });
    const text = out.stdout + out.stderr;
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    expect(text).not.toContain(apiSecret);
    expect(text).not.toMatch(/invalid token/);
  } finally {
    await server.stop();
  }
}, 60_000);
