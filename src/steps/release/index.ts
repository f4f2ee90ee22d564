import type { AnyStep } from '../../engine/types.js'
import { releaseTag } from './tag.js'
import { cicdVerify } from './cicd-verify.js'

/** Steps of this area, registered in src/steps/index.ts. */
export const releaseSteps: AnyStep[] = [cicdVerify, releaseTag]
