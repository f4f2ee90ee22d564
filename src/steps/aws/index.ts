import type { AnyStep } from '../../engine/types.js'

/** Steps of this area, registered in src/steps/index.ts. */
export const awsSteps: AnyStep[] = []
