import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Renderer tests are .tsx (DOM: each file names its environment, e.g. happy-dom).
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration suites start real daemons (pcscd, socat); they get room, unit tests do not need it.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
  esbuild: { jsx: 'automatic' },
});
