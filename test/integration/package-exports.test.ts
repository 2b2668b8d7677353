/**
 * The published shape: `npm run build` output loads through both `import` and `require`,
 * and `npm pack` ships only what users need.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function newestMtime(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return max;
}

beforeAll(() => {
  const dist = join(root, 'dist/index.js');
  if (!existsSync(dist) || statSync(dist).mtimeMs < newestMtime(join(root, 'src'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
  }
}, 120_000);

describe('package exports', () => {
  it('builds dist/index.js, dist/index.cjs and declarations for both', () => {
    for (const f of [
      'index.js',
      'index.cjs',
      'index.d.ts',
      'index.d.cts',
      'testing.js',
      'testing.cjs',
      'testing.d.ts',
      'testing.d.cts',
    ]) {
      expect(existsSync(join(root, 'dist', f)), f).toBe(true);
    }
  });

  it('loads with import() and require() by package name, and errors are recognised across both builds', () => {
    const script = `
      const { createRequire } = await import('node:module');
      const esm = await import('exotel-livekit-bridge');
      const cjs = createRequire(process.cwd() + '/x.js')('exotel-livekit-bridge');
      const e = new cjs.CallRejectedError(486, 'Busy Here');
      console.log(JSON.stringify({
        esmKeys: Object.keys(esm).length, cjsKeys: Object.keys(cjs).length,
        sameVersion: esm.VERSION === cjs.VERSION,
        crossInstanceof: e instanceof esm.CallRejectedError && e instanceof esm.BridgeError,
        notOther: e instanceof esm.SipParseError,
        code: e.code, status: e.status,
        testingEsm: typeof (await import('exotel-livekit-bridge/testing')).ExotelSimulator,
        testingCjs: typeof createRequire(process.cwd() + '/x.js')('exotel-livekit-bridge/testing').ExotelSimulator,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r.esmKeys).toBeGreaterThan(10);
    expect(r.cjsKeys).toBe(r.esmKeys);
    expect(r.sameVersion).toBe(true);
    expect(r.crossInstanceof).toBe(true);
    expect(r.notOther).toBe(false);
    expect(r.code).toBe('CALL_REJECTED');
    expect(r.status).toBe(486);
    expect(r.testingEsm).toBe('function');
    expect(r.testingCjs).toBe('function');
  });

  it('npm pack ships dist, README, CHANGELOG and LICENSE only', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.cjs');
    expect(files).toContain('LICENSE');
    for (const f of files) expect(f).toMatch(/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/);
  });
});
