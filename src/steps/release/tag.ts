import { hostname, userInfo } from 'node:os'
import { z } from 'zod'
import { evaluateChecklist } from '../../engine/checklist.js'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'

const params = z
  .object({
    /** Push the tag (plan 8.8 `git push origin <tag>`); off by default: CI may own the remote. */
    push: z.boolean().default(false),
    remote: z.string().default('origin'),
  })
  .strict()
type Params = z.infer<typeof params>

/**
 * v1.0.0 → v1.0.0-production (plan 8.8). Other environments get their own suffix, so rehearsing
 * the runbook on the sandbox never creates the production go-live tag.
 */
export function goLiveTag(ctx: Context): string {
  const version = ctx.env.release.replace(/^v/, '')
  return `v${version}-${ctx.env.production ? 'production' : ctx.envName}`
}

function message(ctx: Context): string {
  return `${ctx.env.production ? 'Production go-live' : 'Go-live rehearsal'} ${ctx.env.release} (${ctx.envName})`
}

async function git(ctx: Context, args: string[], okExitCodes?: number[]) {
  return ctx.clients.exec('git', ['-C', ctx.root, ...args], { timeoutMs: 60_000, signal: ctx.signal, okExitCodes })
}

async function localTagCommit(ctx: Context, tag: string): Promise<string | undefined> {
  const inside = await git(ctx, ['rev-parse', '--is-inside-work-tree'], [128])
  if (inside.exitCode !== 0) throw new UserError(`${ctx.root} is not a git repository; the go-live tag needs one`, 'run autolytiq from the project checkout')
  const r = await git(ctx, ['rev-parse', '-q', '--verify', `refs/tags/${tag}^{commit}`], [1])
  return r.exitCode === 0 ? r.stdout.trim() : undefined
}

/**
 * `git tag -a` refuses to run without a committer identity ("Please tell me who you are"), which a
 * fresh CI runner or a newcomer's machine often lacks. Then the tag is signed by the engineer the
 * audit log names (user@host), never by a made-up name; a configured identity always wins.
 */
async function taggerIdentity(ctx: Context): Promise<string[]> {
  const configured = async (key: string) => (await git(ctx, ['config', key], [1])).stdout.trim()
  const [name, email] = await Promise.all([configured('user.name'), configured('user.email')])
  const user = userInfo().username
  return [...(name ? [] : ['-c', `user.name=${user}`]), ...(email ? [] : ['-c', `user.email=${user}@${hostname()}`])]
}

async function onRemote(ctx: Context, remote: string, tag: string): Promise<boolean> {
  const r = await git(ctx, ['ls-remote', '--tags', remote, `refs/tags/${tag}`])
  return r.stdout.trim().length > 0
}

/** Plan 8.8: the annotated go-live tag, only once the go-live checklist is complete. */
export const releaseTag: Step<Params> = {
  id: 'release.tag',
  title: 'Go-live tag',
  description: 'Plan 8.8: `git tag -a v<release>-production` (push optional) — refused until the go-live checklist is complete; an existing tag is left alone.',
  danger: 'mutating',
  params,
  retries: 0,
  async plan(ctx, p) {
    const tag = goLiveTag(ctx)
    return [
      'require a complete go-live checklist (runbooks/checklist.yaml)',
      `git -C ${ctx.root} tag -a ${tag} -m "${message(ctx)}"`,
      ...(p.push ? [`git -C ${ctx.root} push ${p.remote} refs/tags/${tag}`] : []),
    ]
  },
  async check(ctx, p) {
    const tag = goLiveTag(ctx)
    const commit = await localTagCommit(ctx, tag)
    if (!commit) return { status: 'todo', detail: `${tag} not created yet` }
    if (p.push && !(await onRemote(ctx, p.remote, tag))) return { status: 'drift', detail: `${tag} exists here but not on ${p.remote}` }
    return { status: 'done', detail: `${tag} → ${commit.slice(0, 12)}`, outputs: { tag, commit } }
  },
  async run(ctx, p) {
    const tag = goLiveTag(ctx)
    let commit = await localTagCommit(ctx, tag)
    if (!commit) {
      const list = await evaluateChecklist(ctx, { ask: false })
      if (!list.complete)
        throw new StepFailedError(
          `the go-live checklist is incomplete (${list.counts.done}/${list.counts.total} done); ${tag} was not created`,
          `complete it with \`autolytiq checklist --env ${ctx.envName}\`, then re-run`,
        )
      await git(ctx, [...(await taggerIdentity(ctx)), 'tag', '-a', tag, '-m', `${message(ctx)} (run ${ctx.runId})`])
      commit = (await localTagCommit(ctx, tag))!
      ctx.log(`created ${tag} at ${commit.slice(0, 12)}`)
    }
    // A crash between tag and push lands here on the re-run: the tag exists, the push is repeated.
    if (p.push && !(await onRemote(ctx, p.remote, tag))) await git(ctx, ['push', p.remote, `refs/tags/${tag}`])
    return { tag, commit, pushed: p.push }
  },
}
