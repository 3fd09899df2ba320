import { defineConfig } from 'vitest/config';

// Integration tests run real cargo and nix builds: generous timeouts, and at most two
// files at once on the 2-core CI machine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
