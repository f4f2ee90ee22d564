import type { AnyStep } from '../../engine/types.js'
import { terraformTfvars } from './tfvars.js'
import { terraformInit } from './init.js'
import { terraformPlan } from './plan.js'
import { terraformApply } from './apply.js'
import { terraformOutputsStep } from './outputs.js'

/** Steps of this area, registered in src/steps/index.ts. */
export const terraformSteps: AnyStep[] = [terraformTfvars, terraformInit, terraformPlan, terraformApply, terraformOutputsStep]
