import { z } from 'zod'
import type { Context, Step } from '../../engine/types.js'
import { callerIdentity, wrongAccountError } from './account.js'

const params = z.object({}).strict()

/** Who runs this deploy goes into the run record (DESIGN.md "State": who, OS user and AWS caller). */
function recordCaller(ctx: Context, arn: string): void {
  const run = ctx.state.state.runs.find((r) => r.id === ctx.runId)
  if (run) run.awsCaller = arn
}

/** Plan 1.1: `aws sts get-caller-identity`, and the account must be the environment's. */
export const preflightIdentity: Step<z.infer<typeof params>> = {
  id: 'preflight.identity',
  title: 'AWS caller identity and account',
  description:
    'Plan 1.1: STS GetCallerIdentity; the account must be the one autolytiq.yaml names for this environment, otherwise the run stops before any change.',
  danger: 'read',
  params,
  async plan(ctx) {
    return [`sts GetCallerIdentity (expect account ${ctx.env.accountId})`]
  },
  async check(ctx) {
    const id = await callerIdentity(ctx)
    if (id.account !== ctx.env.accountId) return { status: 'todo', detail: wrongAccountError(ctx, id).message }
    recordCaller(ctx, id.arn)
    return { status: 'done', detail: `${id.arn} in account ${id.account}`, outputs: { account: id.account, callerArn: id.arn } }
  },
  async run(ctx) {
    const id = await callerIdentity(ctx)
    throw wrongAccountError(ctx, id)
  },
}
