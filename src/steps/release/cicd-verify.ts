import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { gh, ghCurrentRepo, ghUnavailable } from '../../clients/github.js'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { CheckResult, Context, Step } from '../../engine/types.js'

const params = z
  .object({
    /** owner/name; default: $GITHUB_REPOSITORY in Actions, github.setup's repository, else the current checkout's. */
    repo: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/)
      .optional(),
    /** The CD workflow file that tag pushes start (.github/workflows/cd.yml). */
    workflow: z.string().min(1).default('cd.yml'),
    /** How long run() waits for a CD run that is still going; 0 reports and does not wait. */
    waitMinutes: z.number().min(0).max(180).default(30),
    pollSeconds: z.number().min(1).max(300).default(15),
  })
  .strict()

type Params = z.infer<typeof params>

/** The fields of `gh run list --json` / `gh run view --json jobs` this step reads. */
interface GhRun {
  databaseId: number
  status: string
  conclusion: string
  url: string
  headBranch: string
  event: string
  createdAt: string
}

interface GhJob {
  name: string
  status: string
  conclusion: string
  url?: string
}

const RUN_FIELDS = 'databaseId,status,conclusion,url,headBranch,event,createdAt'
const PASSED = ['success', 'skipped', 'neutral']

async function repository(ctx: Context, p: Params): Promise<string> {
  const known = p.repo ?? process.env.GITHUB_REPOSITORY ?? (ctx.state.outputs('github.setup')?.repo as string | undefined)
  if (known) return known
  const out = await ghCurrentRepo(ctx)
  if (!out) throw new UserError('cannot tell which GitHub repository runs the CD workflow', 'set `with: { repo: owner/name }` for cicd.verify in the runbook')
  return out
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T
  } catch {
    throw new StepFailedError(`gh returned something other than JSON for ${what}: ${text.slice(0, 200)}`)
  }
}

async function latestRun(ctx: Context, repo: string, p: Params): Promise<GhRun | undefined> {
  const tag = ctx.env.release
  const out = await gh(ctx, ['run', 'list', '--repo', repo, '--workflow', p.workflow, '--branch', tag, '--limit', '1', '--json', RUN_FIELDS])
  return parseJson<GhRun[]>(out, 'gh run list')[0]
}

async function jobs(ctx: Context, repo: string, run: GhRun): Promise<GhJob[]> {
  const out = await gh(ctx, ['run', 'view', String(run.databaseId), '--repo', repo, '--json', 'jobs'])
  return parseJson<{ jobs?: GhJob[] }>(out, 'gh run view').jobs ?? []
}

const name = (run: GhRun, tag: string): string => `CD run #${run.databaseId} for ${tag}`
const isSelf = (run: GhRun): boolean => process.env.GITHUB_RUN_ID === String(run.databaseId)
const outputs = (repo: string, run: GhRun, failedJob?: string): Record<string, unknown> => ({
  repo,
  runId: run.databaseId,
  url: run.url,
  status: run.status,
  conclusion: run.conclusion || undefined,
  failedJob,
})

async function failedJobName(ctx: Context, repo: string, run: GhRun): Promise<string | undefined> {
  return (await jobs(ctx, repo, run)).find((j) => j.conclusion && !PASSED.includes(j.conclusion))?.name
}

function progress(list: GhJob[]): string {
  const done = list.filter((j) => j.status === 'completed').length
  const running = list.filter((j) => j.status !== 'completed').map((j) => `${j.name} (${j.status})`)
  return `${done}/${list.length} jobs done${running.length ? `; ${running.slice(0, 4).join(', ')}${running.length > 4 ? ', …' : ''}` : ''}`
}

/** Plan 4.5 "Verify CI/CD pipeline": the tag's CD run (build, push, approval, deploy) and how it ended. Read-only. */
export const cicdVerify: Step<Params> = {
  id: 'cicd.verify',
  title: 'CD workflow run for the release tag',
  description:
    'Plan 4.5: finds the latest run of the CD workflow for the release tag with gh and reports its status, failing with the failed job when it failed and waiting (with a deadline) while it runs; skipped with a warning when gh is missing or not logged in.',
  danger: 'read',
  params,
  async plan(ctx, p) {
    const repo = p.repo ?? '<repository>'
    return [
      'gh auth status',
      `gh run list --repo ${repo} --workflow ${p.workflow} --branch ${ctx.env.release} --limit 1 --json ${RUN_FIELDS}`,
      `gh run view <run id> --repo ${repo} --json jobs${p.waitMinutes ? ` (every ${p.pollSeconds} s for up to ${p.waitMinutes} min while the run is going)` : ''}`,
    ]
  },
  async check(ctx, p): Promise<CheckResult> {
    // A rehearsal must not depend on (or query) GitHub: the sandbox never has a CD run of its own.
    if (ctx.env.sandbox) return { status: 'skip', detail: 'the sandbox has no CD workflow runs (this step checks staging and prod)' }
    const why = await ghUnavailable(ctx, 'check the CD run in the GitHub Actions tab')
    if (why) return { status: 'skip', detail: why }
    const repo = await repository(ctx, p)
    const tag = ctx.env.release
    const run = await latestRun(ctx, repo, p)
    if (!run) return { status: 'skip', detail: `no ${p.workflow} run for ${tag} in ${repo} yet; push the tag (\`git push origin ${tag}\`) to start it` }
    if (isSelf(run)) return { status: 'done', detail: `running inside ${name(run, tag)} itself`, outputs: outputs(repo, run) }
    if (run.status === 'completed' && PASSED.includes(run.conclusion))
      return { status: 'done', detail: `${name(run, tag)} ${run.conclusion}: ${run.url}`, outputs: outputs(repo, run) }
    if (run.status === 'completed') {
      const job = await failedJobName(ctx, repo, run)
      return { status: 'todo', detail: `${name(run, tag)} ${run.conclusion}${job ? ` at job "${job}"` : ''}` }
    }
    return { status: 'todo', detail: `${name(run, tag)} is ${run.status}` }
  },
  async run(ctx, p) {
    const repo = await repository(ctx, p)
    const tag = ctx.env.release
    const deadline = Date.now() + p.waitMinutes * 60_000
    for (;;) {
      const run = await latestRun(ctx, repo, p)
      if (!run) throw new StepFailedError(`no ${p.workflow} run for ${tag} in ${repo}`, `push the tag (\`git push origin ${tag}\`), then re-run`)
      if (run.status === 'completed') {
        if (PASSED.includes(run.conclusion)) return outputs(repo, run)
        const job = await failedJobName(ctx, repo, run)
        throw new StepFailedError(
          `${name(run, tag)} ${run.conclusion}${job ? ` at job "${job}"` : ''}: ${run.url}`,
          `read the failure with \`gh run view ${run.databaseId} --repo ${repo} --log-failed\`; after fixing, \`gh run rerun ${run.databaseId} --repo ${repo} --failed\` and re-run`,
        )
      }
      // A run waiting on the prod environment's reviewers waits for a person, not for time.
      if (run.status === 'waiting') {
        ctx.warn(`${name(run, tag)} is waiting for a reviewer to approve its deployment: ${run.url}`)
        return outputs(repo, run)
      }
      const state = `${name(run, tag)} is ${run.status}: ${progress(await jobs(ctx, repo, run))}`
      if (p.waitMinutes === 0) {
        ctx.warn(`${state}; not waiting for it (waitMinutes: 0): ${run.url}`)
        return outputs(repo, run)
      }
      ctx.log(state)
      if (Date.now() + p.pollSeconds * 1000 > deadline)
        throw new StepFailedError(
          `${name(run, tag)} is still ${run.status} after ${p.waitMinutes} min: ${run.url}`,
          `follow it with \`gh run watch ${run.databaseId} --repo ${repo}\`, then re-run`,
        )
      await sleep(p.pollSeconds * 1000, undefined, { signal: ctx.signal })
    }
  },
}
