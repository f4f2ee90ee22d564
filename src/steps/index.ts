import type { AnyStep } from '../engine/types.js'
import { preflightTools } from './preflight/tools.js'
import { httpWaitHealthy } from './http/wait-healthy.js'
import { awsSteps } from './aws/index.js'
import { terraformSteps } from './terraform/index.js'
import { k8sSteps } from './k8s/index.js'
import { dnsSteps } from './dns/index.js'
import { monitoringSteps } from './monitoring/index.js'
import { verifySteps } from './verify/index.js'
import { rollbackSteps } from './rollback/index.js'
import { releaseSteps } from './release/index.js'

/**
 * Every step implementation, registered by id. A runbook `uses:` an id; an id missing here makes
 * `deploy` stop before doing anything ("not implemented: <id>") and `runbook show` marks it.
 */
const ALL: AnyStep[] = [
  preflightTools,
  httpWaitHealthy,
  ...awsSteps,
  ...terraformSteps,
  ...k8sSteps,
  ...dnsSteps,
  ...monitoringSteps,
  ...verifySteps,
  ...rollbackSteps,
  ...releaseSteps,
]

export function stepRegistry(): Map<string, AnyStep> {
  const m = new Map<string, AnyStep>()
  for (const s of ALL) {
    if (m.has(s.id)) throw new Error(`step id ${s.id} registered twice`)
    m.set(s.id, s)
  }
  return m
}
