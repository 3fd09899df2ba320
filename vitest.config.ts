import { defineConfig } from 'vitest/config';

/**
 * Files that run in seconds: pure functions, the templates, the plan, small real
 * `cargo metadata` calls. `npm run test:unit` runs them alone; `npm test` (CI) runs both
 * projects.
 */
const UNIT = [
  'test/bench/figures.test.ts',
  'test/bench/floor.test.ts',
  'test/bench/rounds-figures.test.ts',
  'test/bench/stats.test.ts',
  'test/ci/workflow.test.ts',
  'test/cli/output.test.ts',
  'test/generator/nix-format.test.ts',
  'test/generator/plan.test.ts',
  'test/generator/render.test.ts',
  'test/generator/workspace.test.ts',
  'test/loader/control.test.ts',
  'test/loader/reloadset.test.ts',
  'test/loader/units.test.ts',
];

// Integration tests run real cargo and nix builds: generous timeouts, and at most two
// files at once on the 2-core CI machine.
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT } },
    ],
  },
});
