import { errorMessage } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import { which } from './exec.js'

/**
 * GitHub through its CLI (`gh`), the one way autolytiq talks to GitHub. GitHub cannot run on an
 * engineer's laptop or in the sandbox, so it is optional: steps skip with a warning when gh is
 * missing or not logged in, and say what to do by hand instead.
 */
export async function gh(ctx: Context, args: string[], input?: string): Promise<string> {
  return (await ctx.clients.exec('gh', args, { input, signal: ctx.signal, timeoutMs: 60_000 })).stdout
}

/** Why gh cannot be used here (with `otherwise`: what to do by hand), or undefined when it can. */
export async function ghUnavailable(ctx: Context, otherwise: string): Promise<string | undefined> {
  if (!(await which('gh'))) return `the GitHub CLI (gh) is not installed; ${otherwise}`
  try {
    await gh(ctx, ['auth', 'status'])
  } catch (err) {
    return `gh is not logged in (\`gh auth login\`, or GH_TOKEN in CI): ${errorMessage(err).split('\n').slice(-1)[0]}`
  }
  return undefined
}

/** owner/name of the GitHub repository of the current checkout, or undefined when gh cannot tell. */
export async function ghCurrentRepo(ctx: Context): Promise<string | undefined> {
  return (await gh(ctx, ['repo', 'view', '--json', 'nameWithOwner', '--jq', '.nameWithOwner'])).trim() || undefined
}
