import { defineConfig } from 'vitest/config'

// Files that start a whole sandbox of their own or need only moto and the real terraform: the
// `isolated` project. test/run-all.sh runs it in a second vitest process beside the others, with its
// own moto (test/setup/global-setup-moto.ts). Two processes rather than two workers: vitest 3 reads
// maxWorkers from the root configuration only, and the shared harness hands its endpoints to workers
// through process.env, which two global setups in one process would overwrite. These six files are
// about half of the suite's time (kill matrix ~450 s, end to end ~230 s, the three Terraform
// applies ~130 s each), so the two processes take about the same time.
export const ISOLATED = [
  'test/e2e/**/*.test.ts',
  'test/integration/terraform-sandbox-platform.test.ts',
  'test/integration/terraform-kill-apply.test.ts',
  'test/integration/rollback-infra-modules.test.ts',
]

// Two layers (STYLE.md "tests in layers"): fast unit tests of pure logic and the CLI entry point,
// and integration/end-to-end tests against real components started once by the harness.
export default defineConfig({
  test: {
    reporters: ['default'],
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ISOLATED,
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'isolated',
          include: ISOLATED,
          globalSetup: ['test/setup/global-setup-moto.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
