import type { AnyStep } from '../../engine/types.js'
import { terraformTfvars } from './tfvars.js'

/** Steps of this area, registered in src/steps/index.ts. */
export const terraformSteps: AnyStep[] = [terraformTfvars]
