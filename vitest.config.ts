import { defineConfig } from 'vitest/config'

// Files that start a whole sandbox of their own or need only moto and the real terraform, in two
// groups: the kill matrix (and the SIGKILL during `terraform apply`), and the rest. test/run-all.sh
// runs each group in a vitest process of its own beside the unit+integration one, each group with
// its own moto (test/setup/global-setup-moto.ts). Processes rather than workers: vitest 3 reads
// maxWorkers from the root configuration only, and the shared harness hands its endpoints to
// workers through process.env, which two global setups in one process would overwrite. The kill
// matrix alone is ~16 min; the end-to-end test, the two other Terraform applies and the unit tests
// are about as long; the shared-harness integration files are the third process.
export const KILL = ['test/e2e/kill-matrix.test.ts', 'test/integration/terraform-kill-apply.test.ts']
export const ISOLATED = [
  'test/e2e/sandbox.test.ts',
  'test/e2e/newcomer-pty.test.ts',
  'test/integration/terraform-sandbox-platform.test.ts',
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
