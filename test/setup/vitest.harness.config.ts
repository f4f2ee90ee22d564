// Config for running the harness' own test in isolation:
//   npx vitest run --root . --config test/setup/vitest.harness.config.ts test/integration/harness.test.ts
// The project's vitest.config.ts is owned elsewhere; see README-harness.md for the proposal.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/integration/harness.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    // real servers: first-time waits (rollouts, crash loops, terraform) take seconds, not ms
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
