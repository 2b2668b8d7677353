/**
 * The agent helpers fit rtc-node objects of both lines, by type: `test/fixtures/compat/types.ts`
 * passes a `Room`, `RemoteParticipant`, `LocalParticipant` (and `Participant`) of rtc-node 1.x
 * and of 0.13 (`rtc-node-013`, the line `@livekit/agents` 1.9 depends on) to every helper of
 * `exotel-livekit-bridge/agent`, and shows that wrong shapes are refused (`@ts-expect-error`).
 * tsc runs on that file alone, with the repository's compiler options.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const fixture = resolve(root, 'test/fixtures/compat');

describe('agent helpers accept rtc-node 1.x and 0.13 objects (types)', () => {
  it('the two lines are really different packages', () => {
    const version = (p: string) =>
      (
        JSON.parse(readFileSync(resolve(root, 'node_modules', p, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    expect(version('@livekit/rtc-node')).toMatch(/^1\./);
    expect(version('rtc-node-013')).toMatch(/^0\.13\./);
  });

  it('test/fixtures/compat/types.ts type-checks', () => {
    const r = spawnSync(
      process.execPath,
      [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', resolve(fixture, 'tsconfig.json')],
      { cwd: root, encoding: 'utf8' },
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
