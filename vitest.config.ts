import { defineConfig } from 'vitest/config'

// Files that start a whole sandbox of their own or need only moto and the real terraform, in two
// groups: `kill` (the kill matrix, and the SIGKILL during `terraform apply`) and `isolated` (the
// rest). test/run-all.sh runs three vitest processes side by side: kill; unit + isolated; the
// shared-harness integration files. Each process with an isolated group starts its own moto
// (test/setup/global-setup-moto.ts). Processes rather than workers: vitest 3 reads maxWorkers from
// the root configuration only, and the shared harness hands its endpoints to workers through
// process.env, which two global setups in one process would overwrite. On 2 cores the three take
// about as long each (20-27 min in session 7's clean-clone runs, the CPU 80-100 % used).
export const KILL = ['test/e2e/kill-matrix.test.ts', 'test/integration/terraform-kill-apply.test.ts']
export const ISOLATED = [
  'test/e2e/sandbox.test.ts',
  'test/e2e/newcomer-pty.test.ts',
  'test/integration/terraform-sandbox-platform.test.ts',
  'test/integration/rollback-infra-modules.test.ts',
  // needs only moto: here it evens out the processes (the shared-harness one is the longest)
  'test/integration/terraform-sandbox.test.ts',
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
          exclude: [...ISOLATED, ...KILL],
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
      {
        test: {
          name: 'kill',
          include: KILL,
          globalSetup: ['test/setup/global-setup-moto.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
