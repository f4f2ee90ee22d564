/**
 * vitest globalSetup of the `isolated` project: moto alone. Its files either start a whole sandbox
 * of their own (the end-to-end and kill-matrix tests, terraform-sandbox-platform) or need only moto
 * and the real terraform; they run in a second vitest process beside the shared harness
 * (test/run-all.sh), so they get their own moto and never see another file's AWS resources.
 */
import type { TestProject } from 'vitest/node'
import { COMPONENTS, startHarness } from './global-setup.js'

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return startHarness(project, new Set(COMPONENTS.filter((c) => c !== 'moto')))
}
