/**
 * README's first command: `npm run demo` runs one call on embedded defaults and exits 0
 * only if both directions were heard and teardown left nothing behind; `-- --agentstream`
 * does the same over Exotel's AgentStream WebSocket, in both call directions.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

describe('npm run demo', () => {
  it('exits 0 and reports both directions heard', async () => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('LIVEKIT_') || k.startsWith('EXOTEL_')) delete env[k];
    const { code, out } = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = execFile(
        'npm',
        ['run', '--silent', 'demo'],
        { cwd: root, env, timeout: 120_000 },
        (err, stdout, stderr) =>
          done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin?.end();
    });
    expect(out).toContain('the agent heard the phone: yes');
    expect(out).toContain('the phone heard the agent: yes');
    expect(out).toContain('teardown left nothing behind: yes');
    expect(out).toContain('demo OK');
    expect(code, out).toBe(0);
  }, 150_000);

  it('-- --agentstream: an inbound and an outbound AgentStream call, both directions heard on each', async () => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('LIVEKIT_') || k.startsWith('EXOTEL_')) delete env[k];
    const { code, out } = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = execFile(
        'npm',
        ['run', '--silent', 'demo', '--', '--agentstream'],
        { cwd: root, env, timeout: 120_000 },
        (err, stdout, stderr) =>
          done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin?.end();
    });
    expect(out.match(/the agent heard the caller: yes/g)?.length, out).toBe(2);
    expect(out.match(/the caller heard the agent: yes/g)?.length, out).toBe(2);
    expect(out).toContain('stream at 16000 Hz');
    expect(out).toContain('teardown left nothing behind: yes');
    expect(out).toContain('AgentStream demo OK');
    expect(code, out).toBe(0);
  }, 150_000);
});
