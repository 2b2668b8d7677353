import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and in-memory (seconds); `integration` starts real
// peers (livekit-server, SIPp, baresip) on loopback. `npm test` runs both.
export default defineConfig({
  test: {
    // the soak measures memory after a forced collection (test/harness/soak.ts settle())
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Real servers and sockets: each file in its own process (rtc-node's native
          // runtime is disposed per file); `npm test` runs the files one at a time.
          pool: 'forks',
        },
      },
    ],
    reporters: ['default'],
  },
});
