import { defineConfig } from 'tsup';

// One entry per concern (see package.json "exports"). Splitting shares the modules the
// entries have in common (one copy of each, e.g. one RTP pacer per process) in both builds.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sip: 'src/entries/sip.ts',
    media: 'src/entries/media.ts',
    agent: 'src/entries/agent.ts',
    agentstream: 'src/entries/agentstream.ts',
    testing: 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  // Declarations tagged `@internal` stay out of the published .d.ts/.d.cts (stripInternal).
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  treeshake: true,
  // `import.meta.url` in the CJS build too (src/livekit/rtc.ts resolves rtc-node from it)
  shims: true,
});
