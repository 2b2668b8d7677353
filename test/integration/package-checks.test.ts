/**
 * `npm run check:package` as a test, so a regression fails CI with a readable message:
 * publint (strict, every message down to suggestions) and Are the Types Wrong (`attw --pack .`,
 * the default profile: node10, node16 from CJS, node16 from ESM and bundler) on the packed
 * package. Needs `npm run build` first (CI builds before the tests).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = resolve(import.meta.dirname, '../..');
const SUBPATHS = ['.', './sip', './media', './agent', './agentstream', './testing'];
const KINDS = ['node10', 'node16-cjs', 'node16-esm', 'bundler'] as const;

/** The parts of `attw -f json` the test reads. */
interface AttwReport {
  analysis: {
    problems: unknown[];
    entrypoints: Record<
      string,
      {
        resolutions: Partial<
          Record<
            (typeof KINDS)[number],
            { resolution?: { fileName: string }; implementationResolution?: { fileName: string } }
          >
        >;
      }
    >;
  };
}

function requireBuild(): void {
  if (!existsSync(join(root, 'dist/index.d.ts')))
    throw new Error('dist is missing: run `npm run build` first');
}

describe('package checks (npm run check:package)', () => {
  it('the script runs publint --strict and attw on every resolution mode', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['check:package']).toBe('publint --strict && attw --pack .');
  });

  it('publint --strict has nothing to say, not even a suggestion', async () => {
    requireBuild();
    const { messages, pkg } = await publint({ pkgDir: root, strict: true, level: 'suggestion', pack: 'npm' });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`)).toEqual(
      [],
    );
  });

  it('attw --pack . finds no problem, and every entry resolves to declarations and code in every mode', () => {
    requireBuild();
    let out: string;
    try {
      out = execFileSync(join(root, 'node_modules/.bin/attw'), ['--pack', '.', '--format', 'json'], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
    } catch (err) {
      // attw exits 1 when it finds problems; its JSON says which
      out = (err as { stdout?: string }).stdout ?? '';
      if (out === '') throw err;
    }
    const report = JSON.parse(out) as AttwReport;
    expect(report.analysis.problems).toEqual([]);
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual([...SUBPATHS, './package.json'].sort());
    for (const subpath of SUBPATHS) {
      const { resolutions } = report.analysis.entrypoints[subpath]!;
      for (const kind of KINDS) {
        const r = resolutions[kind];
        expect(r?.resolution?.fileName, `${subpath} ${kind}: types`).toMatch(/\/dist\/[a-z]+\.d\.c?ts$/);
        expect(r?.implementationResolution?.fileName, `${subpath} ${kind}: code`).toBeDefined();
      }
    }
  });
});
