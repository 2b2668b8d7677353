/**
 * Finding the real peers the integration tests need. A missing peer is a failure with
 * a message that says how to install it, never a silent skip.
 */
import { spawnSync } from 'node:child_process';

const INSTALL: Record<string, string> = {
  sipp: 'apt-get install -y sip-tester',
  baresip: 'apt-get install -y --no-install-recommends baresip-core',
};

export function requirePeer(bin: 'sipp' | 'baresip'): string {
  const res = spawnSync('bash', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const path = res.stdout.trim();
  if (res.status !== 0 || path === '') {
    throw new Error(
      `integration peer "${bin}" is not installed; install it with: ${INSTALL[bin]} (bash .ci/run does this)`,
    );
  }
  return path;
}
