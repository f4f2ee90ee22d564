import { defineConfig } from 'vitest/config'

// Two layers (STYLE.md "tests in layers"): fast unit tests of pure logic and the CLI entry point,
// and integration/end-to-end tests against real components started once by the harness.
export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default'] : ['default'],
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
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // 2 cores: integration files share one control plane, one moto and one terraform cache.
          maxWorkers: 2,
          minWorkers: 1,
        },
      },
    ],
  },
})
