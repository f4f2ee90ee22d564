import type { AnyStep } from '../../engine/types.js'
import { checklistGoLive } from './checklist.js'
import { loadBaseline } from './load.js'
import { smokeTests } from './smoke.js'
import { verifyAll } from './verify-all.js'

/** Phase 8 (verification and go-live), registered in src/steps/index.ts. */
export const verifySteps: AnyStep[] = [verifyAll, smokeTests, loadBaseline, checklistGoLive]
