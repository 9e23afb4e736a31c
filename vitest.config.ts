import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start real daemons (pcscd, socat); they get room, unit tests do not need it.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
