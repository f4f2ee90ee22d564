import type { AnyStep } from '../../engine/types.js'
import { monitoringAlertTest } from './alert-test.js'
import { monitoringDeploy } from './deploy.js'
import { monitoringTargets } from './targets.js'

/** Steps of this area (Phase 7), registered in src/steps/index.ts. */
export const monitoringSteps: AnyStep[] = [monitoringDeploy, monitoringTargets, monitoringAlertTest]
