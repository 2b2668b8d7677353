/**
 * A soak process of its own, reporting to its parent over IPC:
 * - `calls` (default): one process of `npm run soak`'s concurrent phase: runs `runSoak` (no
 *   sequential calls, `concurrent` calls at once) against the parent's livekit-server and
 *   Exotel simulator, waits at the barrier the parent holds once its calls carry audio
 *   both ways, and sends its report (start and end figures of this process) back;
 * - `control`: bare rtc-node room cycles (the RSS control);
 * - `ci`: the whole CI-sized soak (`sequential` + `concurrent`, its own simulator), run by
 *   test/integration/soak.test.ts with `--expose-gc` so that memory is read after forced
 *   collections in a process that holds nothing but the soak.
 */
import { dispose } from '@livekit/rtc-node';
import { runSoak } from '../test/harness/soak.js';
import type { SoakWorkerArgs } from '../test/harness/soak-process.js';
import { roomCycleControl } from '../test/harness/soak-memory.js';

type FromParent = { type: 'go' };

const args = JSON.parse(process.env.SOAK_WORKER ?? '{}') as SoakWorkerArgs;
const pending: Promise<void>[] = [];
const send = (msg: unknown): void => {
  if (process.connected && process.send !== undefined)
    pending.push(new Promise((r) => process.send!(msg, undefined, undefined, () => r())));
};
let go!: () => void;
const released = new Promise<void>((r) => (go = r));
process.on('message', (m: FromParent) => {
  if (m.type === 'go') go();
});

try {
  if (args.mode === 'control') {
    send({ type: 'control', control: await roomCycleControl(args.server, args.cycles ?? 100) });
  } else if (args.mode === 'ci') {
    const report = await runSoak({
      server: args.server,
      sequential: args.sequential ?? 50,
      concurrent: args.concurrent,
      holdMs: { concurrent: args.holdMs },
      onProgress: (phase, done, total) => {
        if (done === total || done % 10 === 0) process.stderr.write(`soak: ${phase} ${done}/${total}\n`);
      },
    });
    send({ type: 'report', report });
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
  await Promise.all(pending);
  process.disconnect?.();
  // The report is out. A handle the soak left open (which the report names) would keep this
  // process alive and the parent waiting for its timeout: end it here.
  process.exit(0);
}
