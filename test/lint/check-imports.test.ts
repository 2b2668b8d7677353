/**
 * `npm run lint` runs `scripts/check-imports.mjs src`: these tests run the same script on
 * the trees under test/fixtures/imports and show it fails (exit 1, naming the files) when
 * a tree holds an import cycle or an import against the layers, and passes on a clean one.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts/check-imports.mjs');
const fixtures = 'test/fixtures/imports';

function check(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: repo, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/check-imports.mjs', () => {
  it('passes a layered tree without cycles (comments that look like imports do not count)', () => {
    const r = check(`${fixtures}/clean`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('7 files under test/fixtures/imports/clean, no cycles, layers respected');
    expect(r.status).toBe(0);
  });

  it('fails on import cycles, naming every file of each cycle in order', () => {
    const r = check(`${fixtures}/cycle`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('3 problem(s) under test/fixtures/imports/cycle');
    const c = `${fixtures}/cycle`;
    expect(r.stderr).toContain(`import cycle: ${c}/a.ts -> ${c}/b.ts -> ${c}/c.ts -> ${c}/a.ts\n`);
    // Type-only imports count: a cycle of types still ties two files together.
    expect(r.stderr).toContain(
      `import cycle (type-only): ${c}/model/call.ts -> ${c}/model/leg.ts -> ${c}/model/call.ts\n`,
    );
    expect(r.stderr).toContain(
      `import cycle: ${c}/sip/transport-stream.ts -> ${c}/sip/transport.ts -> ${c}/sip/transport-stream.ts\n`,
    );
  });

  it('fails on imports against the layers, naming the importing file, its line and the target', () => {
    const r = check(`${fixtures}/layers`);
    expect(r.status).toBe(1);
    const l = `${fixtures}/layers`;
    const lines = r.stderr.split('\n').filter((s) => s.includes('layer violation'));
    expect(lines).toEqual([
      `  layer violation: ${l}/codec/g711.ts:1 imports ${l}/livekit/frames.ts (${l}/codec/ must not import ${l}/livekit/)`,
      `  layer violation: ${l}/sdp/parse.ts:1 imports ${l}/sip/headers.ts (${l}/sdp/ must not import ${l}/sip/)`,
      `  layer violation: ${l}/sip/client.ts:1 imports ${l}/rtp/session.ts (${l}/sip/ must not import ${l}/rtp/)`,
    ]);
    expect(r.stderr).not.toContain('import cycle');
  });

  it('fails once a cycle is added to the clean tree (what lint does when src/ gains one)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-imports-'));
    try {
      cpSync(join(repo, fixtures, 'clean'), dir, { recursive: true });
      expect(check(dir).status).toBe(0);
      writeFileSync(
        join(dir, 'sip/flow.ts'),
        "import { SipTransport } from './transport.js';\nexport type SipFlow = { id: number; t?: SipTransport };\n",
      );
      const r = check(dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/import cycle: .*sip\/flow\.ts -> .*sip\/transport\.ts -> .*sip\/flow\.ts/);
      expect(r.stderr).toContain('(3 files are tangled in this cycle)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads side-effect, dynamic and re-export specifiers too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-imports-'));
    try {
      cpSync(join(repo, fixtures, 'clean'), dir, { recursive: true });
      writeFileSync(join(dir, 'rtp/x.ts'), "import '../sip/flow.js';\n");
      writeFileSync(join(dir, 'codec/y.ts'), "export const f = () => import('../sip/flow.js');\n");
      writeFileSync(join(dir, 'sdp/z.ts'), "export * from '../rtp/packet.js';\n");
      const r = check(dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('3 problem(s)');
      expect(r.stderr).toMatch(/rtp\/x\.ts:1 imports .*sip\/flow\.ts/);
      expect(r.stderr).toMatch(/codec\/y\.ts:1 imports .*sip\/flow\.ts/);
      expect(r.stderr).toMatch(/sdp\/z\.ts:1 imports .*rtp\/packet\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on a root that is not a directory', () => {
    const r = check('test/fixtures/imports/missing');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a directory');
  });
});
