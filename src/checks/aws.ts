import { callerIdentity } from '../steps/aws/account.js'
import { errorMessage } from '../engine/errors.js'
import type { Check, Context } from '../engine/types.js'

/** Preflight: credentials work and point at the environment's account (plan 1.1). */
export function awsIdentityCheck(): Check {
  return {
    id: 'aws.identity',
    title: 'AWS credentials for the environment account',
    layer: 'aws',
    timeoutMs: 15_000,
    async run(ctx: Context) {
      try {
        const id = await callerIdentity(ctx)
        if (id.account !== ctx.env.accountId)
          return { status: 'fail', detail: `signed in to account ${id.account} as ${id.arn}; ${ctx.envName} is account ${ctx.env.accountId}` }
        return { status: 'pass', detail: `${id.arn} (account ${id.account})` }
      } catch (err) {
        return { status: 'fail', detail: errorMessage(err) }
      }
    },
  }
}
