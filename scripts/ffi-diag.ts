/**
 * `npm run ffi-diag [-- --calls N] [-- --rtc-node]`: N soak calls (default 20) at once in
 * this one process, against a local livekit-server and the Exotel simulator, printing every
 * 2 s what `@livekit/rtc-node`'s native event traffic does to the process: the rooms, the
 * entries queued on their event locks, events received by type, heap, RSS and CPU.
 * `--rtc-node` runs the calls on rtc-node's own per-frame path (`directFfi: false`), which
 * also leaves native log capture on: the "before" of docs/reliability.md and
 * docs/performance.md. Without it, the bridge starts the native layer as it does in a host
 * whose first use of rtc-node is a bridged call. A diagnostic: it reads rtc-node 1.1.0
 * internals (each Room's `ffiEventLock`, the process-wide FFI client) and changes nothing.
 */
import { AudioSource, Room, dispose } from '@livekit/rtc-node';
import { FfiMediaRouter, quietNativeInit } from '../src/livekit/ffi-media.js';
import { startLiveKitServer } from '../test/harness/livekit-server.js';
import { stopAll } from '../test/harness/process.js';
import { runSoak } from '../test/harness/soak.js';

interface RoomInternals {
  isConnected: boolean;
  ffiEventLock?: { _locks?: number };
  preConnectEvents?: unknown[];
}
interface Emitter {
  emit(name: string, ev: { message?: { case?: string; value?: { message?: { case?: string } } } }): boolean;
}

const argAt = process.argv.indexOf('--calls');
const calls = argAt >= 0 ? Number(process.argv[argAt + 1]) : 20;
const rtcNode = process.argv.includes('--rtc-node');

// Every Room of the process, to read its lock queue.
const rooms = new Set<RoomInternals>();
const connect = Room.prototype.connect;
Room.prototype.connect = function (this: Room, ...args: Parameters<Room['connect']>) {
  rooms.add(this as unknown as RoomInternals);
  return connect.apply(this, args);
};

// Events by type, counted where rtc-node's client emits them (after the bridge's routing).
const byCase = new Map<string, number>();
let counting = false;
const countEvents = (): void => {
  const client = (globalThis as unknown as { _ffiClientInstance?: Emitter })._ffiClientInstance;
  if (client === undefined || counting) return;
  counting = true;
  const emit = client.emit;
  client.emit = function (name, ev) {
    const m = ev?.message;
    const k = m?.case === 'roomEvent' ? `room:${m.value?.message?.case ?? '?'}` : (m?.case ?? '?');
    byCase.set(k, (byCase.get(k) ?? 0) + 1);
    return emit.call(this, name, ev);
  };
};

const server = await startLiveKitServer({ quiet: true });
if (!rtcNode) {
  // As in a host whose first use of rtc-node is a bridged call: the bridge starts the native
  // layer (here with a throwaway AudioSource, since the soak's agents connect first).
  await quietNativeInit(() => new AudioSource(8000, 1, 10)).close();
  FfiMediaRouter.get();
}
console.log(
  `ffi-diag: ${calls} calls at once in one process, ${rtcNode ? "rtc-node's own path" : 'the direct FFI path'}`,
);
const t0 = Date.now();
let cpu0 = process.cpuUsage();
const timer = setInterval(() => {
  countEvents();
  let pending = 0;
  let live = 0;
  let buffered = 0;
  for (const r of rooms) {
    pending += r.ffiEventLock?._locks ?? 0;
    buffered += r.preConnectEvents?.length ?? 0;
    if (r.isConnected) live++;
  }
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage(cpu0);
  cpu0 = process.cpuUsage();
  const logs = byCase.get('logs') ?? 0;
  byCase.delete('logs');
  const top = [...byCase]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${k} ${Math.round(v / 2)}/s`)
    .join(', ');
  byCase.clear();
  const router = FfiMediaRouter.peek();
  console.log(
    `${String(Math.round((Date.now() - t0) / 1000)).padStart(3)} s  rooms ${live}/${rooms.size} connected, ` +
      `lock queue ${pending}, buffered ${buffered}, heap ${Math.round(mem.heapUsed / 2 ** 20)} MiB, ` +
      `RSS ${Math.round(mem.rss / 2 ** 20)} MiB, CPU ${Math.round((cpu.user + cpu.system) / 20_000)} % | ` +
      `log events ${Math.round(logs / 2)}/s; ${top || '–'}` +
      (router ? ` | log events dropped undecoded ${router.droppedLogEvents}` : ''),
  );
}, 2000);
try {
  const report = await runSoak({
    server,
    sequential: 0,
    concurrent: calls,
    holdMs: { concurrent: 10_000 },
    directFfi: !rtcNode,
  });
  console.log(`failed calls: ${report.concurrent.failures.length + report.warmUpFailures.length}`);
} finally {
  clearInterval(timer);
  await server.stop();
  await dispose();
  await stopAll();
}
process.exit(0);
