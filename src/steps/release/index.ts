import type { AnyStep } from '../../engine/types.js'
import { releaseTag } from './tag.js'

/** Steps of this area, registered in src/steps/index.ts. */
export const releaseSteps: AnyStep[] = [releaseTag]
