import { hostname, userInfo } from 'node:os'
import type { Service } from '../config/catalog.js'
import { buildContext } from '../engine/context.js'
import { AutolytiqError, EXIT, InterruptedError, StepFailedError, UserError, errorMessage } from '../engine/errors.js'
import type { Prompter } from '../engine/prompt.js'
import { redact } from '../engine/redact.js'
import { installInterruptHandler } from '../engine/runner.js'
import type { Context } from '../engine/types.js'
import { planImageTag, validateTag } from './image-tag.js'
import { executeChanges, problemsOf } from './execute.js'
import { planUndo } from './undo.js'
import type { VerifyOutcome } from './verify.js'
import type { WorkloadChange } from './workloads.js'
import { deploymentImagesPoint } from './points.js'

export interface ServiceRollbackRequest {
  env?: string
  services: string[]
  all: boolean
  toRevision?: number
  imageTag?: string
  dryRun: boolean
  yes: boolean
  timeoutSeconds: number
  /** Progress lines (stderr); silent under --json. */
  progress: (line: string) => void
  prompter?: Prompter
}

export interface ChangeReport extends Omit<WorkloadChange, 'patch'> {
  changed: boolean
  error?: string
}

export interface ServiceRollbackResult {
  environment: string
  namespace: string
  runId: string
  mode: 'undo' | 'image-tag'
  result: 'rolled-back' | 'no-change' | 'dry-run' | 'failed' | 'interrupted'
  changes: ChangeReport[]
  verification: VerifyOutcome[]
  /** Where the time went: the benchmark's breakdown. */
  timings: { planMs: number; applyMs: number; rolloutMs: number; verifyMs: number }
  durationMs: number
  error?: { message: string; next?: string }
  exitCode: number
  /** A Slack notification that could not be sent (never changes the exit code). */
  /** Set by the command: a notification that could not be sent. */
  warnings?: string[]
}

/** Flags first (STYLE.md "validate, ask, execute"): every mistake is reported before anything is contacted. */
function validate(req: ServiceRollbackRequest): 'undo' | 'image-tag' {
  if (req.imageTag !== undefined) {
    validateTag(req.imageTag)
    if (req.toRevision !== undefined) throw new UserError('--to-revision goes with an undo (--service S), not with --image-tag', 'use one or the other')
    if (req.all && req.services.length)
      throw new UserError('--all and --service exclude each other', 'name services with --service, or use --all for every catalog service')
    if (!req.all && !req.services.length) throw new UserError('--image-tag needs --service S (repeatable) or --all', 'for example: --image-tag v1.0.0 --all')
    return 'image-tag'
  }
  if (req.all)
    throw new UserError(
      '--all needs --image-tag: undoing every service would also "undo" services this release never touched',
      'roll every service to one known-good tag: --image-tag <tag> --all',
    )
  if (!req.services.length) throw new UserError('say what to roll back: --service S [--to-revision N], or --image-tag T --service S | --all')
  if (req.toRevision !== undefined && req.services.length > 1)
    throw new UserError('--to-revision applies to one service at a time', 'run one rollback per service')
  return 'undo'
}

function selectServices(ctx: Context, req: ServiceRollbackRequest, mode: 'undo' | 'image-tag'): Service[] {
  const services = req.all ? ctx.catalog.services : ctx.catalog.select(req.services)
  const cronJobs = services.filter((s) => s.kind !== 'Deployment')
  if (mode === 'undo' && cronJobs.length)
    throw new UserError(
      `${cronJobs.map((s) => s.name).join(', ')} is a CronJob: it has no rollout history to undo`,
      `set its image instead: --image-tag <tag> --service ${cronJobs[0]!.name}`,
    )
  return services
}

/**
 * `autolytiq rollback --service S [--to-revision N]` and `--image-tag T --service S... | --all`:
 * the on-call fast path. Not a runbook, but the same guarantees: environment lock, confirmation
 * (production: type its name), audit entries, a rollback point of what ran before, then wait for
 * the rollout (fail-fast) and verify it. The command tells the team with the returned context.
 */
export async function rollbackServices(req: ServiceRollbackRequest): Promise<{ result: ServiceRollbackResult; ctx: Context }> {
  const t0 = Date.now()
  const mode = validate(req)
  const { ctx, lock } = await buildContext({ env: req.env, dryRun: req.dryRun, yes: req.yes, prompter: req.prompter, log: req.progress })
  const services = selectServices(ctx, req, mode)
  if (!req.dryRun && !req.yes && !ctx.prompt.interactive)
    throw new UserError(
      `rollback changes running services on ${ctx.envName}, and this run cannot ask for confirmation (no terminal, or CI=true); nothing was changed`,
      'review with --dry-run, then re-run with --yes',
    )
  const result: ServiceRollbackResult = {
    environment: ctx.envName,
    namespace: ctx.env.namespace,
    runId: ctx.runId,
    mode,
    result: 'dry-run',
    changes: [],
    verification: [],
    timings: { planMs: 0, applyMs: 0, rolloutMs: 0, verifyMs: 0 },
    durationMs: 0,
    exitCode: EXIT.ok,
  }
  const finish = (): { result: ServiceRollbackResult; ctx: Context } => ({ result: { ...result, durationMs: Date.now() - t0 }, ctx })
  const plan = (): Promise<WorkloadChange[]> =>
    Promise.all(services.map((s) => (mode === 'undo' ? planUndo(ctx, ctx.env.namespace, s.name, req.toRevision) : planImageTag(ctx, s, req.imageTag!))))

  if (req.dryRun) {
    const planned = await plan()
    result.changes = planned.map(({ patch: _p, ...c }) => ({ ...c, changed: false }))
    result.timings.planMs = Date.now() - t0
    return finish()
  }

  // The lock first: if a deploy is running, say so before asking the engineer anything.
  await lock.acquire(`autolytiq rollback ${mode === 'undo' ? `--service ${req.services.join(',')}` : `--image-tag ${req.imageTag}`}`, ctx.runId)
  const interrupt = installInterruptHandler()
  let changing = false
  try {
    const tPlan = Date.now()
    const planned = await plan()
    result.timings.planMs = Date.now() - tPlan
    result.changes = planned.map(({ patch: _p, ...c }) => ({ ...c, changed: false }))
    const todo = planned.filter((c) => !c.noop)
    if (todo.length === 0) {
      result.result = 'no-change'
      return finish()
    }
    await confirm(ctx, todo)
    changing = true
    await runChanges(ctx, interrupt.controller.signal, req.timeoutSeconds, todo, result)
    return finish()
  } catch (err) {
    if (!changing) throw err // refused or failed before anything changed: one message, its exit code
    const interrupted = interrupt.controller.signal.aborted || err instanceof InterruptedError
    result.result = interrupted ? 'interrupted' : 'failed'
    result.exitCode = interrupted ? EXIT.interrupted : err instanceof AutolytiqError ? err.exitCode : EXIT.failed
    result.error = { message: redact(errorMessage(err)), next: err instanceof AutolytiqError ? err.next : undefined }
    return finish()
  } finally {
    interrupt.dispose()
    await lock.release()
  }
}

async function confirm(ctx: Context, todo: WorkloadChange[]): Promise<void> {
  if (ctx.yes) return
  const lines = todo.map((c) => `  ${c.service}: ${Object.values(c.before).join(', ')} -> ${Object.values(c.after).join(', ')}`)
  const what = `Roll back ${todo.length} workload(s) on ${ctx.envName}${ctx.env.production ? ' (PRODUCTION)' : ''}:\n${lines.join('\n')}`
  if (ctx.env.production) await ctx.prompt.typed(what, ctx.envName, 'rollback on production')
  else if (!(await ctx.prompt.confirm(`${what}\nContinue?`, 'rollback'))) throw new UserError('cancelled; nothing was changed')
}

/** Records the run and a rollback point of what runs now, then applies, waits and verifies. */
async function runChanges(ctx: Context, signal: AbortSignal, timeoutSeconds: number, todo: WorkloadChange[], result: ServiceRollbackResult): Promise<void> {
  const run = {
    id: ctx.runId,
    command: `rollback ${result.mode}`,
    user: userInfo().username,
    host: hostname(),
    release: ctx.env.release,
    startedAt: new Date().toISOString(),
    result: 'running' as 'running' | 'succeeded' | 'failed' | 'interrupted',
    endedAt: undefined as string | undefined,
  }
  ctx.state.state.runs.push(run)
  ctx.state.addRollbackPoint({ ...deploymentImagesPoint(ctx, todo), step: 'rollback.service', runId: ctx.runId, at: run.startedAt })
  await ctx.state.save()
  try {
    const outcome = await executeChanges(ctx, todo, { signal, timeoutMs: timeoutSeconds * 1000 })
    Object.assign(result.timings, outcome.timings)
    result.verification = outcome.verification
    for (const c of result.changes) {
      c.changed = outcome.changed.includes(c.service)
      c.error = outcome.refused[c.service]
    }
    const problems = problemsOf(outcome)
    if (problems.length)
      throw new StepFailedError(
        problems.join('; '),
        `inspect with \`autolytiq verify --env ${ctx.envName}\`; pick another target with --to-revision N or --image-tag T`,
      )
    result.result = 'rolled-back'
    run.result = 'succeeded'
  } catch (err) {
    run.result = signal.aborted ? 'interrupted' : 'failed'
    throw err
  } finally {
    run.endedAt = new Date().toISOString()
    await ctx.state.save()
  }
}
