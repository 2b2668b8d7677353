/**
 * Global setup of the integration project: one real livekit-server for the whole run,
 * stopped at teardown (and by the process watchdog if the run is killed).
 */
import type { TestProject } from 'vitest/node';
import { startLiveKitServer, type LiveKitServerHandle } from './livekit-server.js';
import { stopAll } from './process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    livekit: { url: string; httpUrl: string; apiKey: string; apiSecret: string };
  }
}

let server: LiveKitServerHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startLiveKitServer({ quiet: false });
  project.provide('livekit', {
    url: server.url,
    httpUrl: server.httpUrl,
    apiKey: server.apiKey,
    apiSecret: server.apiSecret,
  });
}

export async function teardown(): Promise<void> {
  await server?.stop();
  await stopAll();
}
