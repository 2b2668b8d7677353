/**
 * CPU of the bridge process by thread group (Linux thread names), per call-second of a step:
 * the grouping of docs/performance.md's "Where the bridge's CPU goes" and of the levers table.
 */
import type { StepResult } from './report.js';

/** Thread groups of the bridge process (Linux thread names, `#` = a number). */
export const THREAD_GROUPS: { label: string; short: string; match: (name: string) => boolean }[] = [
  { label: 'JS main thread (bridge, RTP, SIP, rtc-node JS)', short: 'JS', match: (n) => n === 'node' },
  { label: 'Opus encoder (AudioEncoder)', short: 'Opus enc', match: (n) => n.startsWith('AudioEncoder') },
  {
    label: 'WebRTC network + worker threads',
    short: 'WebRTC net',
    match: (n) =>
      n.startsWith('network_thread') || n.startsWith('worker_thread') || n.startsWith('signaling'),
  },
  {
    label: 'audio device, capture, decode (SyntheticAudioDevice, AudioSourceCapture, livekit-audio)',
    short: 'audio dev/capture/decode',
    match: (n) =>
      n.startsWith('SyntheticAudio') || n.startsWith('AudioSourceCapt') || n.startsWith('livekit-audio'),
  },
  { label: 'rtc-node FFI runtime (tokio)', short: 'tokio', match: (n) => n.startsWith('tokio') },
];

export function threadGroups(st: StepResult): { groups: number[]; other: number; total: number } | undefined {
  const t = st.internal?.threadCpuMs;
  if (t === undefined || Object.keys(t).length === 0) return undefined;
  const per = (ms: number) => ms / (Math.max(1, st.active) * st.windowS);
  const groups = THREAD_GROUPS.map(() => 0);
  let other = 0;
  let total = 0;
  for (const [name, ms] of Object.entries(t)) {
    const i = THREAD_GROUPS.findIndex((g) => g.match(name));
    if (i >= 0) groups[i]! += per(ms);
    else other += per(ms);
    total += per(ms);
  }
  return { groups, other, total };
}
