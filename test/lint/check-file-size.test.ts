/**
 * `npm run lint` runs `scripts/check-file-size.mjs src 500`: a file with more lines of
 * code than the limit fails it; blank and comment lines do not count.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts/check-file-size.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'size-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function check(dir: string, max: number): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, dir, String(max)], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const code = (n: number): string =>
  Array.from({ length: n }, (_, i) => `export const v${i} = ${i};`).join('\n');

describe('scripts/check-file-size.mjs', () => {
  it('passes files at the limit, counting neither blank lines nor comments', () => {
    const padding = ['', '// a comment', '/**', ' * a doc comment', ' */', '/* one line */', ''].join('\n');
    const dir = tree({ 'a.ts': `${padding}\n${code(10)}\n${padding}` });
    const r = check(dir, 10);
    expect(r.status).toBe(0);
    expect(r.out).toContain('none over 10 lines of code');
  });

  it('fails on a file one line of code over the limit, naming it', () => {
    const dir = tree({ 'ok.ts': code(10), 'big.ts': code(11) });
    const r = check(dir, 10);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/big\.ts: 11 lines of code \(max 10\)/);
    expect(r.out).not.toMatch(/ok\.ts/);
  });
});
