/**
 * A real livekit-server on loopback for tests and the demo: built from its Go module by
 * scripts/build-livekit-server.mjs, started on free ports, ready when `GET /` answers OK.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from './process.js';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- plain .mjs script shared with the CLI
import { ensureLivekitServer } from '../../scripts/build-livekit-server.mjs';

export interface LiveKitServerHandle {
  /** ws://127.0.0.1:<port> */
  url: string;
  /** http://127.0.0.1:<port> (for RoomServiceClient) */
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  process: ManagedProcess;
  /** The ports it listens on (pass them back to restart a server at the same address). */
  ports: LiveKitServerPorts;
  stop(): Promise<void>;
}

export interface LiveKitServerPorts {
  port: number;
  tcpPort: number;
  udpPort: number;
}

export const DEV_API_KEY = 'devkey';
export const DEV_API_SECRET = 'secret';

type StartOptions = {
  quiet?: boolean;
  ports?: LiveKitServerPorts;
  keys?: { apiKey: string; apiSecret: string };
};

/**
 * Starts a server on free ports. A free port can be taken between our probe and the server's
 * bind (an outgoing connection picks an ephemeral port): "address already in use" is then
 * retried on fresh ports, twice; with explicit ports it is an error at once.
 */
export async function startLiveKitServer(opts: StartOptions = {}): Promise<LiveKitServerHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      const raced = /address already in use/.test(String(err));
      if (!raced || opts.ports !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(opts: StartOptions): Promise<LiveKitServerHandle> {
  const bin = (ensureLivekitServer as (o: { quiet: boolean }) => string)({ quiet: opts.quiet ?? true });
  const port = opts.ports?.port ?? (await freePort());
  const tcpPort = opts.ports?.tcpPort ?? (await freePort());
  const udpPort = opts.ports?.udpPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'lk-server-'));
  const proc = spawnManaged(
    'livekit-server',
    bin,
    [
      '--dev',
      '--bind',
      '127.0.0.1',
      '--node-ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--udp-port',
      String(udpPort),
      '--rtc.tcp_port',
      String(tcpPort),
      '--rtc.enable_loopback_candidate',
      ...(opts.keys !== undefined ? ['--keys', `${opts.keys.apiKey}: ${opts.keys.apiSecret}`] : []),
    ],
    { cwd: dir },
  );
  const httpUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      'livekit-server',
      async () => {
        try {
          const res = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(500) });
          return res.ok && (await res.text()).trim() === 'OK';
        } catch {
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, proc },
    );
  } catch (err) {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    apiKey: opts.keys?.apiKey ?? DEV_API_KEY,
    apiSecret: opts.keys?.apiSecret ?? DEV_API_SECRET,
    process: proc,
    ports: { port, tcpPort, udpPort },
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
