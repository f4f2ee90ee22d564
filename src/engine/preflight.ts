import { buildContext } from './context.js'
import { runChecks, worst, type CheckReport } from '../checks/run.js'
import { toolChecks } from '../checks/tools.js'
import { awsIdentityCheck } from '../checks/aws.js'
import { kubeCredentialsCheck } from '../checks/kube-credentials.js'
import type { Check, Context } from './types.js'

/** Extra preflight checks registered by other areas (AWS identity...). */
export const extraPreflightChecks: ((ctx: Context) => Check[])[] = []

export async function preflight(env: string | undefined): Promise<{ checks: CheckReport[]; result: 'pass' | 'warn' | 'fail' }> {
  const { ctx } = await buildContext({ env })
  const checks = [...toolChecks(), awsIdentityCheck(), kubeCredentialsCheck(), ...extraPreflightChecks.flatMap((f) => f(ctx))]
  const reports = await runChecks(ctx, checks, { deadlineMs: 30_000 })
  return { checks: reports, result: worst(reports) }
}
