/**
 * One process of `npm run soak`'s concurrent phase: runs `runSoak` (no sequential calls,
 * `concurrent` calls at once) against the parent's livekit-server and Exotel simulator,
 * waits at the barrier the parent holds over IPC once its calls carry media, and sends its
 * report (start and end figures of this process) back to the parent.
 */
import { dispose } from '@livekit/rtc-node';
import { roomCycleControl, runSoak, type SoakServer } from '../test/harness/soak.js';

interface WorkerArgs {
  /** `control`: bare rtc-node room cycles only (the RSS control), no bridge. */
  mode?: 'calls' | 'control';
  cycles?: number;
  server: SoakServer;
  farEnd: { host: string; port: number };
  concurrent: number;
  holdMs: number;
  /** Wait this long before the first call (the parent staggers its workers). */
  startDelayMs?: number;
}

type FromParent = { type: 'go' };

const args = JSON.parse(process.env.SOAK_WORKER ?? '{}') as WorkerArgs;
const send = (msg: unknown): void => {
  if (process.connected) process.send?.(msg);
};
let go!: () => void;
const released = new Promise<void>((r) => (go = r));
process.on('message', (m: FromParent) => {
  if (m.type === 'go') go();
});

try {
  if (args.mode === 'control') {
    send({ type: 'control', control: await roomCycleControl(args.server, args.cycles ?? 100) });
  } else {
    await new Promise((r) => setTimeout(r, args.startDelayMs ?? 0));
    const report = await runSoak({
      server: args.server,
      farEnd: args.farEnd,
      sequential: 0,
      concurrent: args.concurrent,
      holdMs: { concurrent: args.holdMs },
      onAllUp: () => {
        send({ type: 'up' });
        return released;
      },
    });
    send({ type: 'report', report });
  }
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
} finally {
  await dispose();
  process.disconnect?.();
}
