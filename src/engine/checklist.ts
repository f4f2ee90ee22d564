import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { userInfo } from 'node:os'
import { z } from 'zod'
import { runChecks, worst, type CheckReport } from '../checks/run.js'
import { preloadClients, verifyChecks } from '../checks/verify.js'
import { rdsBackupsCheck } from '../checks/database.js'
import { redisSnapshotsCheck } from '../checks/redis.js'
import { alertmanagerReceiversCheck } from '../checks/monitoring.js'
import { externalSecretsCheck } from '../checks/secrets.js'
import { networkPoliciesCheck, pvcCheck } from '../checks/k8s.js'
import { KubeView } from '../checks/k8s-view.js'
import { loadYamlFile } from '../config/files.js'
import { buildContext } from './context.js'
import { UserError } from './errors.js'
import type { ChecklistAnswer } from './state.js'
import type { Check, Context } from './types.js'

const item = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    /** The plan's wording, unchanged, so the checklist can be traced back to it. */
    text: z.string(),
    /** Check ids (as in `verify`), `health.*` for every service, or `step:<id>` for a completed runbook step. */
    checks: z.array(z.string()).optional(),
    /** The question a person must answer (who and when are recorded). */
    manual: z.string().optional(),
    /** A warning still ticks the item ("network policies applied (if using)"); otherwise only a pass does. */
    allowWarn: z.boolean().default(false),
  })
  .strict()
  .refine((i) => i.checks?.length || i.manual, { message: 'an item needs checks, a manual question, or both' })

const checklistSchema = z
  .object({
    version: z.literal(1),
    title: z.string(),
    source: z.string().optional(),
    sections: z.array(z.object({ id: z.string(), title: z.string(), items: z.array(item).min(1) }).strict()).min(1),
  })
  .strict()

export type ChecklistFile = z.output<typeof checklistSchema>
export type ChecklistItem = z.output<typeof item>

export type ManualAnswer = 'yes' | 'no' | 'n/a'
/** "no" first: it is what Enter picks, so pressing Enter through the list signs nothing. */
export const MANUAL_CHOICES: ManualAnswer[] = ['no', 'yes', 'n/a']

const answersFileSchema = z
  .object({
    /** The environment the file was reviewed for: a staging file cannot sign production. */
    environment: z.string().min(1),
    /** Who signs: recorded with every answer instead of the OS user running the pipeline. */
    signedBy: z.string().min(1),
    answers: z.record(z.object({ answer: z.enum(['yes', 'no', 'n/a']), note: z.string().optional() }).strict()),
  })
  .strict()

/** A reviewed answers file (`checklist --answers FILE`), validated against the checklist. */
export interface AnswersFile {
  path: string
  sha256: string
  signedBy: string
  answers: Record<string, { answer: ManualAnswer; note?: string }>
}

/**
 * Reads and validates an answers file strictly: the right environment, and only manual items of
 * this checklist (an unknown or automatic item is an error naming it, exit 2; nothing recorded).
 */
export function loadAnswersFile(path: string, file: ChecklistFile, envName: string): AnswersFile {
  const full = resolve(path)
  const parsed = loadYamlFile(full, answersFileSchema, 'answers file')
  if (parsed.environment !== envName)
    throw new UserError(
      `answers file ${full} is for environment "${parsed.environment}", not "${envName}"; nothing was recorded`,
      `use the file reviewed for ${envName}`,
    )
  const items = new Map(file.sections.flatMap((s) => s.items.map((i) => [i.id, i] as const)))
  const manual = [...items.values()].filter((i) => i.manual).map((i) => i.id)
  for (const id of Object.keys(parsed.answers)) {
    const i = items.get(id)
    if (!i) throw new UserError(`answers file ${full}: unknown checklist item "${id}"; nothing was recorded`, `manual items: ${manual.join(', ')}`)
    if (!i.manual)
      throw new UserError(`answers file ${full}: item "${id}" is checked automatically, not signed; nothing was recorded`, `manual items: ${manual.join(', ')}`)
  }
  return { path: full, sha256: createHash('sha256').update(readFileSync(full)).digest('hex'), signedBy: parsed.signedBy, answers: parsed.answers }
}

export interface ItemResult {
  id: string
  section: string
  text: string
  kind: 'automatic' | 'manual' | 'both'
  /** done: every check passed (warnings only where allowed) and any manual question was answered yes / n/a. */
  status: 'done' | 'failed' | 'open'
  detail: string
  checks: CheckReport[]
  answer?: ChecklistAnswer
}

export interface ChecklistResult {
  environment: string
  release: string
  title: string
  at: string
  complete: boolean
  counts: { done: number; failed: number; open: number; total: number }
  /** Manual items left open because nobody could be asked (no terminal, or CI). */
  unasked: string[]
  items: ItemResult[]
}

export function loadChecklist(root: string): ChecklistFile {
  const file = join(root, 'runbooks', 'checklist.yaml')
  const data = loadYamlFile(file, checklistSchema, 'checklist')
  const ids = data.sections.flatMap((s) => s.items.map((i) => i.id))
  const dup = ids.find((id, i) => ids.indexOf(id) !== i)
  if (dup) throw new UserError(`checklist ${file}: item id "${dup}" appears twice`)
  return data
}

/** A runbook step that must have completed (database migrations, the synthetic alert test). */
function stepDoneCheck(stepId: string): Check {
  return {
    id: `step:${stepId}`,
    title: `runbook step ${stepId} completed`,
    layer: 'runbook',
    timeoutMs: 1000,
    async run(ctx) {
      const st = ctx.state.state.steps['go-live']?.[stepId]
      if (st?.status === 'done') return { status: 'pass', detail: `${stepId} done${st.endedAt ? ` at ${st.endedAt}` : ''}` }
      return {
        status: 'fail',
        detail: `${stepId} has not completed (status ${st?.status ?? 'never run'}); run \`autolytiq deploy --env ${ctx.envName} --only ${stepId}\``,
      }
    },
  }
}

/** Every check a checklist item may name: verify's, plus probes only the checklist needs. */
export function checklistChecks(ctx: Context): Map<string, Check> {
  const view = new KubeView(ctx, ctx.env.namespace)
  const kube = { services: ctx.catalog.deployments, windowMinutes: 15, timeoutMs: 10_000, narrowed: false }
  const all = [
    ...verifyChecks(ctx),
    pvcCheck(view, kube),
    networkPoliciesCheck(view, kube),
    externalSecretsCheck(10_000),
    rdsBackupsCheck(10_000),
    redisSnapshotsCheck(10_000),
    alertmanagerReceiversCheck(10_000),
  ]
  return new Map(all.map((c) => [c.id, c]))
}

/** The checks one item names; `health.*` expands, `step:` ids are made on demand. */
function resolveChecks(names: string[], available: Map<string, Check>, where: string): Check[] {
  return names.flatMap((n) => {
    if (n.startsWith('step:')) return [stepDoneCheck(n.slice(5))]
    if (n.endsWith('*')) return [...available.values()].filter((c) => c.id.startsWith(n.slice(0, -1)))
    const c = available.get(n)
    if (!c) throw new UserError(`checklist item ${where} names unknown check "${n}"`, `known checks: ${[...available.keys()].join(', ')}`)
    return [c]
  })
}

const MARK: Record<string, string> = { pass: 'pass', warn: 'pass with warning', fail: 'FAIL' }

/**
 * Plan 8.7. Automatic items are evaluated concurrently; manual items are asked one by one when a
 * person can be asked (never answered by --yes); answers are kept with who and when, so a
 * re-run only asks what is still open.
 */
export async function evaluateChecklist(ctx: Context, opts: { ask: boolean; answersFile?: string }): Promise<ChecklistResult> {
  const file = loadChecklist(ctx.root)
  // Validated before any probe runs or anything is recorded.
  const signed = opts.answersFile ? loadAnswersFile(opts.answersFile, file, ctx.envName) : undefined
  const available = checklistChecks(ctx)
  const flat = file.sections.flatMap((s) =>
    s.items.map((i) => ({ section: s.title, item: i, checks: resolveChecks(i.checks ?? [], available, `${s.id}/${i.id}`) })),
  )
  const needed = [...new Map(flat.flatMap((f) => f.checks).map((c) => [c.id, c])).values()]
  await preloadClients(ctx, needed)
  const reports = new Map((await runChecks(ctx, needed, { deadlineMs: 60_000 })).map((r) => [r.id, r]))
  const at = new Date().toISOString()
  const answers = ctx.state.state.checklist
  const canAsk = opts.ask && ctx.prompt.interactive && !signed
  if (signed)
    await ctx.audit.append({
      runId: ctx.runId,
      environment: ctx.envName,
      action: 'checklist.answers-file',
      params: { file: signed.path, sha256: signed.sha256, signedBy: signed.signedBy, items: Object.keys(signed.answers) },
      result: 'ok',
    })
  const unasked: string[] = []
  const items: ItemResult[] = []

  for (const { section, item: i, checks } of flat) {
    const own = checks.map((c) => reports.get(c.id)!)
    const auto = own.length ? worst(own) : undefined
    // A warning means "could not confirm" (no metrics, expiring soon, not configured): not a tick.
    const autoStatus: ItemResult['status'] | undefined = auto === 'fail' ? 'failed' : auto === 'warn' && !i.allowWarn ? 'open' : auto ? 'done' : undefined
    const kind = own.length && i.manual ? 'both' : own.length ? 'automatic' : 'manual'
    const autoDetail = own.map((r) => `${r.id}: ${MARK[r.status]} — ${r.detail}`).join('; ')
    if (!i.manual) {
      answers[i.id] = { status: auto!, by: 'autolytiq', at, detail: autoDetail, automatic: true }
      items.push({ id: i.id, section, text: i.text, kind, status: autoStatus!, detail: autoDetail, checks: own, answer: answers[i.id] })
      continue
    }
    const fromFile = signed?.answers[i.id]
    if (fromFile) {
      // The reviewed file signs the manual part (again, if it was answered before) with its own
      // time and signer, even before the probes pass (CD signs before it deploys): the item is
      // done only when its checks pass as well.
      answers[i.id] = {
        status: fromFile.answer,
        by: signed!.signedBy,
        at: new Date().toISOString(),
        detail: fromFile.note,
        automatic: false,
        via: `answers file sha256:${signed!.sha256}`,
      }
      await ctx.state.save()
      await ctx.audit.append({
        runId: ctx.runId,
        environment: ctx.envName,
        action: 'checklist.answer',
        params: { item: i.id, answer: fromFile.answer, signedBy: signed!.signedBy, sha256: signed!.sha256 },
        result: 'ok',
        detail: fromFile.note,
      })
    }
    if (autoStatus && autoStatus !== 'done') {
      // Asking a person to vouch for something a probe just saw broken would only record a false yes.
      items.push({ id: i.id, section, text: i.text, kind, status: autoStatus, detail: autoDetail, checks: own, answer: answers[i.id] })
      continue
    }
    let answer = answers[i.id]
    const settled = answer && !answer.automatic && (answer.status === 'yes' || answer.status === 'n/a')
    if (!fromFile && !settled && canAsk) {
      const reply = await ctx.prompt.choose(`[${section}] ${i.text}\n  ${i.manual}`, MANUAL_CHOICES)
      // Each answer carries the moment it was given, not the moment the checklist started.
      answer = { status: reply, by: userInfo().username, at: new Date().toISOString(), automatic: false, via: 'terminal' }
      answers[i.id] = answer
      await ctx.state.save()
      await ctx.audit.append({ runId: ctx.runId, environment: ctx.envName, action: 'checklist.answer', params: { item: i.id, answer: reply }, result: 'ok' })
    } else if (!fromFile && !settled) unasked.push(i.id)
    const manualStatus = answer && !answer.automatic ? answer.status : undefined
    const who = manualStatus ? `${manualStatus} by ${answer!.by} at ${answer!.at}${answer!.detail ? ` (${answer!.detail})` : ''}` : 'not answered'
    const status = manualStatus === 'yes' || manualStatus === 'n/a' ? 'done' : manualStatus === 'no' ? 'failed' : 'open'
    items.push({ id: i.id, section, text: i.text, kind, status, detail: [autoDetail, `manual: ${who}`].filter(Boolean).join('; '), checks: own, answer })
  }
  await ctx.state.save()
  const count = (s: ItemResult['status']): number => items.filter((x) => x.status === s).length
  const counts = { done: count('done'), failed: count('failed'), open: count('open'), total: items.length }
  return { environment: ctx.envName, release: ctx.env.release, title: file.title, at, complete: counts.done === counts.total, counts, unasked, items }
}

export interface ChecklistRequest {
  env?: string
  /** A reviewed answers file that signs manual items without a terminal (CD after approval). */
  answersFile?: string
}

/**
 * `autolytiq checklist`: takes the environment's lock (answers are written to its state, which
 * a concurrent deploy would otherwise overwrite), evaluates and asks. The command exports and
 * tells the team with the returned context.
 */
export async function checklist(req: ChecklistRequest): Promise<{ result: ChecklistResult; ctx: Context }> {
  const { ctx, lock } = await buildContext({ env: req.env })
  await lock.acquire('autolytiq checklist', ctx.runId)
  try {
    return { result: await evaluateChecklist(ctx, { ask: true, answersFile: req.answersFile }), ctx }
  } finally {
    await lock.release()
  }
}
