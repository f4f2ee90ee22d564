import { hostname, userInfo } from 'node:os'
import { Listr, ListrLogger, ListrPromptAdapter, ListrTaskEventType, ProcessOutput, type ListrTaskWrapper, type ListrRendererValue } from 'listr2'
import pRetry from 'p-retry'
import { AutolytiqError, EXIT, InterruptedError, StepFailedError, UserError, errorMessage, isTransient } from './errors.js'
import { redact } from './redact.js'
import { armKillFault, type KillFault } from './fault.js'
import { isCI, TerminalPrompter, type Prompter } from './prompt.js'
import { strongestDanger, type Runbook, type RunbookStep } from './runbook.js'
import type { EnvLock } from './lock.js'
import type { Context } from './types.js'

/** `checked`: a read-only step ran its probe (smoke tests, verify, a wait) and it passed; nothing was changed. */
export type StepOutcome = 'changed' | 'checked' | 'unchanged' | 'failed' | 'skipped' | 'planned' | 'not-run' | 'interrupted'

export interface StepReport {
  id: string
  phase: number
  title: string
  outcome: StepOutcome
  detail?: string
  durationMs?: number
  plan?: string[]
}

export interface RunReport {
  runId: string
  environment: string
  runbook: string
  release: string
  result: 'succeeded' | 'failed' | 'interrupted' | 'dry-run'
  /** Mutating steps that changed something. */
  changed: number
  /** Read-only steps that ran their probe this time (never counted as changes). */
  checked: number
  unchanged: number
  skipped: number
  steps: StepReport[]
  warnings: string[]
  error?: { message: string; next?: string; step?: string; exitCode: number }
  rollback?: string
  stateFile: string
  durationMs: number
  /** AWS API calls this run made (a re-run of a finished environment should make no mutating one). */
  awsCalls?: { total: number; mutating: number }
}

export interface RunOptions {
  command: string
  runbook: Runbook
  steps: RunbookStep[]
  lock: EnvLock
  json: boolean
  /** Called when a step fails after changes were made (deploy --auto-rollback). Returns a summary. */
  onFailure?: (failed: RunbookStep, err: unknown, ctx: Context) => Promise<string | undefined>
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000

function rendererFor(json: boolean): ListrRendererValue {
  if (json) return 'silent'
  return process.stderr.isTTY && !isCI() ? 'default' : 'simple'
}

/**
 * Plain progress, on stderr like every other renderer (the simple renderer builds its own logger,
 * which would print to stdout, mixing progress into results). In CI no colour either: colorette
 * colours listr's icons on any terminal and whenever GitHub Actions is detected.
 */
const PLAIN = (s?: string): string => s ?? ''
const plainOptions = (): Record<string, unknown> => ({
  logger: new ListrLogger({ useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr) }),
  ...(isCI() ? { color: Object.fromEntries(['STARTED', 'FAILED', 'SKIPPED', 'COMPLETED', 'RETRY', 'ROLLBACK', 'PAUSED'].map((level) => [level, PLAIN])) } : {}),
})

/**
 * Runs runbook steps in order: check() → (todo) rollback point → run() → verify(), saving state
 * after every transition so a crash at any instant resumes cleanly. Progress goes to stderr.
 */
export async function runRunbook(ctx: Context, opts: RunOptions): Promise<RunReport> {
  const started = Date.now()
  const { runbook, steps } = opts
  const missing = steps.filter((s) => !s.impl)
  if (missing.length)
    throw new UserError(
      `not implemented: ${missing.map((s) => s.id).join(', ')}`,
      'nothing was run; select implemented steps with --phase/--only, or implement them',
    )

  const report: RunReport = {
    runId: ctx.runId,
    environment: ctx.envName,
    runbook: runbook.name,
    release: ctx.env.release,
    result: 'succeeded',
    changed: 0,
    checked: 0,
    unchanged: 0,
    skipped: 0,
    steps: [],
    warnings: [],
    stateFile: ctx.state.location,
    durationMs: 0,
  }
  const warn = (m: string): void => void report.warnings.push(redact(m))

  if (ctx.dryRun) return dryRun(ctx, opts, report, warn, started)

  // Validate, ask, execute: refuse before touching anything when confirmation is impossible.
  const danger = strongestDanger(steps)
  if (danger !== 'read') {
    // Only the steps that can write are counted as "may change"; the read-only ones just look.
    const writing = steps.filter((s) => s.impl!.danger !== 'read').length
    const readOnly = steps.length - writing
    const what = `${writing} step(s) of ${runbook.name} on ${ctx.envName} may change ${ctx.env.production ? 'PRODUCTION ' : ''}infrastructure${readOnly ? ` (${readOnly} more only read)` : ''}`
    if (!ctx.yes && !ctx.prompt.interactive)
      throw new UserError(
        `${what}, and this run cannot ask for confirmation (no terminal, or CI=true); nothing was changed`,
        'review with --dry-run, then re-run with --yes',
      )
    if (!ctx.yes) {
      if (ctx.env.production || danger === 'destructive') await ctx.prompt.typed(`${what}.`, ctx.envName, what)
      else if (!(await ctx.prompt.confirm(`${what}. Continue?`, what))) throw new UserError('cancelled; nothing was changed')
    }
  }

  await opts.lock.acquire(`autolytiq ${opts.command}`, ctx.runId)
  const interrupt = installInterruptHandler()
  const runCtrl = interrupt.controller
  const stateRun = {
    id: ctx.runId,
    command: opts.command,
    user: userInfo().username,
    host: hostname(),
    release: ctx.env.release,
    startedAt: new Date().toISOString(),
    result: 'running' as const,
  }
  ctx.state.state.runs.push(stateRun)
  ctx.state.state.release = ctx.env.release
  await ctx.state.save()

  let failedStep: RunbookStep | undefined
  let failure: unknown
  const baseCtx: Context = { ...ctx, signal: runCtrl.signal, warn }
  try {
    const tasks = new Listr(
      runbook.phases
        .filter((ph) => steps.some((s) => s.phase.id === ph.id))
        .map((ph) => ({
          title: `Phase ${ph.number}: ${ph.title}`,
          task: (_: unknown, phaseTask: ListrTaskWrapper<unknown, never, never>) =>
            phaseTask.newListr(
              steps
                .filter((s) => s.phase.id === ph.id)
                .map((s) => ({
                  title: `${s.id}: ${s.impl!.title}`,
                  task: async (_c: unknown, task: ListrTaskWrapper<unknown, never, never>) => {
                    if (runCtrl.signal.aborted || opts.lock.lost) throw new InterruptedError()
                    try {
                      const stepBase = rendererFor(opts.json) === 'default' ? { ...baseCtx, prompt: promptInView(baseCtx.prompt, task) } : baseCtx
                      const r = await executeStep(stepBase, runbook.name, s, (m) => (task.output = redact(m)))
                      report.steps.push(r)
                      if (r.outcome === 'changed') report.changed++
                      if (r.outcome === 'checked') report.checked++
                      if (r.outcome === 'unchanged') report.unchanged++
                      if (r.outcome === 'skipped') report.skipped++
                      const suffix =
                        r.outcome === 'unchanged'
                          ? 'already done'
                          : r.outcome === 'skipped'
                            ? `skipped: ${r.detail}`
                            : `${r.outcome === 'checked' ? 'passed' : 'done'}${r.detail ? `: ${r.detail}` : ''}`
                      task.title = redact(`${s.id}: ${s.impl!.title} — ${suffix}`)
                    } catch (err) {
                      failedStep = s
                      failure = err
                      const interrupted = runCtrl.signal.aborted
                      report.steps.push({
                        id: s.id,
                        phase: s.phase.number,
                        title: s.impl!.title,
                        outcome: interrupted ? 'interrupted' : 'failed',
                        detail: redact(errorMessage(err)),
                      })
                      // listr2 prints the message itself: hand it the redacted text only.
                      throw interrupted ? new InterruptedError() : new Error(redact(errorMessage(err)))
                    }
                  },
                })),
              { concurrent: false, exitOnError: true },
            ),
        })),
      {
        renderer: rendererFor(opts.json),
        rendererOptions: {
          processOutput: new ProcessOutput(process.stderr, process.stderr),
          collapseSubtasks: false,
          showErrorMessage: true,
          ...(rendererFor(opts.json) === 'simple' ? plainOptions() : {}),
        } as never,
        exitOnError: true,
        concurrent: false,
        registerSignalListeners: false,
        collectErrors: false,
      },
    )
    await tasks.run()
  } catch (err) {
    failure ??= err
  } finally {
    interrupt.dispose()
  }

  for (const s of steps)
    if (!report.steps.some((r) => r.id === s.id)) report.steps.push({ id: s.id, phase: s.phase.number, title: s.impl!.title, outcome: 'not-run' })

  if (failure) {
    const interrupted = runCtrl.signal.aborted || failure instanceof InterruptedError
    report.result = interrupted ? 'interrupted' : 'failed'
    const e = failure instanceof AutolytiqError ? failure : undefined
    report.error = { message: redact(errorMessage(failure)), next: e?.next, step: failedStep?.id, exitCode: e?.exitCode ?? EXIT.failed }
    if (!interrupted && failedStep && opts.onFailure && report.changed + countChangedEarlier(ctx, runbook.name) > 0) {
      try {
        report.rollback = await opts.onFailure(failedStep, failure, baseCtx)
      } catch (rbErr) {
        report.rollback = `automatic rollback FAILED: ${redact(errorMessage(rbErr))}`
      }
    }
  }
  const run = ctx.state.state.runs.find((r) => r.id === ctx.runId)
  if (run) {
    run.endedAt = new Date().toISOString()
    run.result = report.result === 'dry-run' ? 'succeeded' : report.result
  }
  await ctx.state.save()
  await opts.lock.release()
  report.durationMs = Date.now() - started
  report.awsCalls = { total: ctx.clients.aws.calls.length, mutating: ctx.clients.aws.mutatingCalls.length }
  return report
}

function countChangedEarlier(ctx: Context, runbook: string): number {
  return Object.values(ctx.state.steps(runbook)).filter((s) => s.runId === ctx.runId && s.changed).length
}

/** Marks the step's task as prompting while a question is open, so the live view shows it. */
class PromptWindow extends ListrPromptAdapter {
  async run<T>(ask: () => Promise<T>): Promise<T> {
    this.reportStarted()
    try {
      const answer = await ask()
      this.reportCompleted()
      return answer
    } catch (err) {
      this.reportFailed()
      throw err
    }
  }
}

/**
 * The live view redraws the terminal many times a second: a question written straight to it
 * (a step's confirmation, the go-live checklist's manual items) is drawn over and never seen.
 * Questions go through the step's prompt channel instead, which the view draws below the task.
 * Each question gets a channel of its own: @inquirer/prompts ends its output stream when it is
 * answered, so a second question written to the first one's channel was never drawn and the
 * checklist waited for an answer to a question nobody could see.
 */
function promptInView(prompter: Prompter, task: ListrTaskWrapper<unknown, never, never>): Prompter {
  if (!(prompter instanceof TerminalPrompter) || !prompter.interactive) return prompter
  const inView = (): TerminalPrompter => prompter.drawingOn(task.stdout(ListrTaskEventType.PROMPT))
  const ask = <T>(q: () => Promise<T>): Promise<T> => task.prompt(PromptWindow).run(q)
  return {
    interactive: true,
    confirm: (m, r) => ask(() => inView().confirm(m, r)),
    typed: (m, e, r) => ask(() => inView().typed(m, e, r)),
    secret: (m) => ask(() => inView().secret(m)),
    choose: (m, c) => ask(() => inView().choose(m, c)),
  }
}

async function executeStep(ctx: Context, runbook: string, s: RunbookStep, output: (m: string) => void): Promise<StepReport> {
  const impl = s.impl!
  const st = ctx.state.step(runbook, s.id)
  const t0 = Date.now()
  const wasInterrupted = st.status === 'running' || st.status === 'failed'
  st.status = 'running'
  st.attempts++
  st.runId = ctx.runId
  st.startedAt = new Date().toISOString()
  delete st.error
  await ctx.state.save()

  const timeoutMs = impl.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)])
  const stepCtx: Context = { ...ctx, signal, log: (m) => output(m) }
  const finish = async (status: 'done' | 'skipped' | 'failed', changed: boolean, detail?: string): Promise<void> => {
    st.status = status
    st.changed = changed
    st.detail = detail === undefined ? undefined : redact(detail)
    st.endedAt = new Date().toISOString()
    st.durationMs = Date.now() - t0
    await ctx.state.save()
  }

  let fault: KillFault | undefined
  try {
    // A step left running by a crash is re-probed before anything runs again.
    if (wasInterrupted) output('re-checking after an interrupted or failed attempt')
    fault = armKillFault(ctx, s.id)
    const probe = await withDeadline(impl.check(stepCtx, s.params), signal, `${s.id} check`)
    if (probe.status === 'done' || probe.status === 'skip') fault?.afterCheck(probe.status)
    if (probe.status === 'done') {
      if (probe.outputs) ctx.state.setOutputs(s.id, probe.outputs)
      await finish('done', false, probe.detail)
      return { id: s.id, phase: s.phase.number, title: impl.title, outcome: 'unchanged', detail: probe.detail, durationMs: Date.now() - t0 }
    }
    if (probe.status === 'skip') {
      ctx.warn(`${s.id} skipped: ${probe.detail}`)
      await finish('skipped', false, probe.detail)
      return { id: s.id, phase: s.phase.number, title: impl.title, outcome: 'skipped', detail: probe.detail, durationMs: Date.now() - t0 }
    }
    if (probe.status === 'drift') output(`drift: ${probe.detail}; repairing`)

    if (impl.danger === 'destructive') await ctx.prompt.typed(`${s.id} is destructive: ${impl.description}`, ctx.envName, `${s.id} is destructive`)
    if (s.confirm && !ctx.yes && !(await ctx.prompt.confirm(s.confirm, s.confirm)))
      throw new UserError(`${s.id} not confirmed; stopped before changing anything`)

    if (impl.rollbackPoint) {
      const point = await withDeadline(impl.rollbackPoint(stepCtx, s.params), signal, `${s.id} rollback point`)
      if (point) {
        ctx.state.addRollbackPoint({ ...point, step: s.id, runId: ctx.runId, at: new Date().toISOString() })
        await ctx.state.save()
      }
    }
    if (impl.danger !== 'read')
      await ctx.audit.append({
        runId: ctx.runId,
        environment: ctx.envName,
        action: 'step.run',
        step: s.id,
        params: s.params as Record<string, unknown>,
        result: 'started',
      })

    const runCtx = fault ? { ...stepCtx, clients: fault.beforeRun() } : stepCtx
    const out = await pRetry(() => withDeadline(impl.run(runCtx, s.params), signal, s.id), {
      retries: impl.retries ?? 2,
      minTimeout: 500,
      factor: 2,
      signal,
      shouldRetry: (err) => {
        const retry = isTransient(err) && !signal.aborted
        if (retry) output(`transient failure (${errorMessage(err)}); retrying with backoff`)
        return retry
      },
    })
    fault?.afterRun()
    if (out) ctx.state.setOutputs(s.id, out)
    if (impl.verify) await withDeadline(impl.verify(stepCtx, s.params, out), signal, `${s.id} verify`)
    const summary = impl.summary?.(out)
    const detail = probe.status === 'drift' ? `repaired drift: ${probe.detail}${summary ? `; ${summary}` : ''}` : summary
    // A read-only step that ran (smoke tests, a wait, verify) proved something; it changed nothing.
    const changed = impl.danger !== 'read'
    await finish('done', changed, detail)
    if (impl.danger !== 'read')
      await ctx.audit.append({ runId: ctx.runId, environment: ctx.envName, action: 'step.run', step: s.id, result: 'ok', durationMs: Date.now() - t0, detail })
    return { id: s.id, phase: s.phase.number, title: impl.title, outcome: changed ? 'changed' : 'checked', detail, durationMs: Date.now() - t0 }
  } catch (err) {
    fault?.disarm()
    const interrupted = ctx.signal.aborted
    const msg = interrupted ? 'interrupted (Ctrl-C); re-run to resume — this step will be re-checked first' : errorMessage(err)
    st.error = redact(msg)
    await finish('failed', false)
    if (impl.danger !== 'read')
      await ctx.audit.append({
        runId: ctx.runId,
        environment: ctx.envName,
        action: 'step.run',
        step: s.id,
        result: 'failed',
        detail: msg,
        durationMs: Date.now() - t0,
      })
    if (interrupted) throw new InterruptedError()
    if (err instanceof AutolytiqError) throw err
    if (signal.aborted)
      throw new StepFailedError(
        `${s.id} did not finish within ${Math.round(timeoutMs / 1000)} s`,
        `re-run to resume; \`autolytiq status --env ${ctx.envName}\` shows where it stopped`,
      )
    throw new StepFailedError(`${s.id} failed: ${errorMessage(err)}`, `fix the cause and re-run; the run resumes at ${s.id}`)
  }
}

/** Rejects when the signal aborts even if the promise ignores it (a stuck SDK call, say). */
function withDeadline<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error(`${what} aborted`))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what} stopped: ${signal.reason instanceof Error ? signal.reason.message : 'aborted'}`))
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/**
 * First Ctrl-C: stop starting new work, let the current step stop at a safe point, save state,
 * exit 130. Second Ctrl-C: exit now (the step is left `running` and re-checked on resume).
 */
export function installInterruptHandler(): { controller: AbortController; dispose(): void } {
  const controller = new AbortController()
  let count = 0
  const handler = (): void => {
    count++
    if (count === 1) {
      process.stderr.write('\nInterrupted: stopping at the next safe point and saving state (Ctrl-C again to exit now)\n')
      controller.abort(new InterruptedError())
    } else {
      process.stderr.write('\nExiting now; the current step will be re-checked when you re-run.\n')
      process.exit(130)
    }
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    controller,
    dispose() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}

async function dryRun(ctx: Context, opts: RunOptions, report: RunReport, warn: (m: string) => void, started: number): Promise<RunReport> {
  report.result = 'dry-run'
  for (const s of opts.steps) {
    const impl = s.impl!
    let plan: string[]
    let detail: string
    try {
      plan = await impl.plan(ctx, s.params)
    } catch (err) {
      plan = [`(cannot plan yet: ${errorMessage(err)})`]
    }
    try {
      const probe = await impl.check({ ...ctx, warn }, s.params)
      detail =
        probe.status === 'done'
          ? 'already done: no change'
          : probe.status === 'skip'
            ? `would skip: ${probe.detail}`
            : `would change${probe.detail ? `: ${probe.detail}` : ''}`
    } catch (err) {
      detail = `would run (cannot check yet: ${errorMessage(err)})`
    }
    report.steps.push({ id: s.id, phase: s.phase.number, title: impl.title, outcome: 'planned', detail: redact(detail), plan: plan.map(redact) })
  }
  report.durationMs = Date.now() - started
  report.awsCalls = { total: ctx.clients.aws.calls.length, mutating: ctx.clients.aws.mutatingCalls.length }
  return report
}
