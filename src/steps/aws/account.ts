import { UserError } from '../../engine/errors.js'
import type { AwsClients } from '../../clients/aws.js'
import type { Context } from '../../engine/types.js'

export interface CallerIdentity {
  account: string
  arn: string
  userId: string
}

/** One STS call per set of clients: every mutating AWS step re-asserts the account cheaply. */
const identities = new WeakMap<AwsClients, Promise<CallerIdentity>>()

export function callerIdentity(ctx: Context): Promise<CallerIdentity> {
  let p = identities.get(ctx.clients.aws)
  if (!p) {
    p = (async () => {
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
      const r = await (await ctx.clients.aws.sts()).send(new GetCallerIdentityCommand({}))
      return { account: r.Account ?? '', arn: r.Arn ?? '', userId: r.UserId ?? '' }
    })()
    // A failed call (expired credentials) must not be cached: the engineer logs in and retries.
    p.catch(() => identities.delete(ctx.clients.aws))
    identities.set(ctx.clients.aws, p)
  }
  return p
}

export function wrongAccountError(ctx: Context, id: CallerIdentity): UserError {
  const profile = ctx.env.awsProfile ? ` (profile ${ctx.env.awsProfile})` : ''
  return new UserError(
    `signed in to AWS account ${id.account} as ${id.arn}${profile}, but environment "${ctx.envName}" is account ${ctx.env.accountId}; nothing was changed`,
    `switch to account ${ctx.env.accountId} (AWS_PROFILE or \`aws sso login\`), or fix accountId in autolytiq.yaml, then re-run`,
  )
}

/**
 * Guard called by every step before it changes something in AWS: a run with the wrong
 * credentials stops before its first mutating call, even with --only.
 */
export async function requireAccount(ctx: Context): Promise<CallerIdentity> {
  const id = await callerIdentity(ctx)
  if (id.account !== ctx.env.accountId) throw wrongAccountError(ctx, id)
  return id
}
