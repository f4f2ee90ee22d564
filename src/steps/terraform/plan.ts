import { existsSync, readFileSync, rmSync } from 'node:fs'
import { z } from 'zod'
import { writeFileAtomic } from '../../engine/state.js'
import { ExternalError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { basisHolds, currentBasis, type PlanBasis } from './basis.js'
import { lockHeld } from './lock.js'
import { commandLine, planFile, requireTfvars, sha256File, terraform } from './tf.js'

const params = z.object({}).strict()

export interface PlanSummary {
  add: number
  change: number
  destroy: number
  /** false when terraform reported no changes at all (resources and outputs). */
  changes: boolean
  planFile: string
  planSha256?: string
  /** Addresses of what would be destroyed or replaced: the lines a reviewer must not miss. */
  destroys: string[]
  /** Every resource the plan touches: address, action and (update, replace) the attributes that change. */
  resources?: PlannedChange[]
  /** Root outputs whose value changes. */
  outputs?: string[]
  /** The state version and inputs the plan was made from (./basis.ts); absent when they cannot be told. */
  basis?: PlanBasis
}

export type PlannedAction = 'create' | 'update' | 'replace' | 'delete' | 'read'

/** One resource in a plan, by name only: attribute values (possibly secrets) never leave terraform. */
export interface PlannedChange {
  address: string
  action: PlannedAction
  /** Top-level attributes that differ between state and plan (update, replace), sorted. */
  attributes?: string[]
}

export interface ResourceChange {
  address: string
  change: {
    actions: string[]
    before?: unknown
    after?: unknown
    after_unknown?: unknown
    replace_paths?: unknown[][]
  }
}

/** The part of `terraform show -json <plan>` read here. */
export interface PlanJson {
  resource_changes?: ResourceChange[]
  output_changes?: Record<string, { actions: string[] }>
}

/** terraform's own counting: a replace is one add and one destroy. */
export function summarize(resourceChanges: ResourceChange[]): Pick<PlanSummary, 'add' | 'change' | 'destroy' | 'destroys'> {
  let add = 0
  let change = 0
  let destroy = 0
  const destroys: string[] = []
  for (const rc of resourceChanges) {
    const a = rc.change.actions
    if (a.includes('create')) add++
    if (a.includes('delete')) {
      destroy++
      destroys.push(rc.address)
    }
    if (a.length === 1 && a[0] === 'update') change++
  }
  return { add, change, destroy, destroys }
}

function actionOf(actions: string[]): PlannedAction | undefined {
  if (actions.includes('create') && actions.includes('delete')) return 'replace'
  if (actions.length !== 1) return undefined
  const a = actions[0]
  return a === 'create' || a === 'update' || a === 'delete' || a === 'read' ? a : undefined
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** after_unknown marks a value "known after apply" with true, at any depth. */
const anyUnknown = (v: unknown): boolean => v === true || (Array.isArray(v) ? v.some(anyUnknown) : isObject(v) && Object.values(v).some(anyUnknown))

/** Names of the top-level attributes an update or replace changes (values compared, never shown). */
export function changedAttributes(change: ResourceChange['change']): string[] {
  const before = isObject(change.before) ? change.before : {}
  const after = isObject(change.after) ? change.after : {}
  const unknown = isObject(change.after_unknown) ? change.after_unknown : {}
  const names = new Set<string>()
  for (const k of new Set([...Object.keys(before), ...Object.keys(after), ...Object.keys(unknown)]))
    if (anyUnknown(unknown[k]) || JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null)) names.add(k)
  for (const path of change.replace_paths ?? []) if (typeof path[0] === 'string') names.add(path[0])
  return [...names].sort()
}

/** The resources and outputs a `terraform show -json` plan changes (no-ops left out). */
export function plannedChanges(plan: PlanJson): Pick<PlanSummary, 'resources' | 'outputs'> {
  const resources: PlannedChange[] = []
  for (const rc of plan.resource_changes ?? []) {
    const action = actionOf(rc.change.actions)
    if (!action) continue
    resources.push(action === 'update' || action === 'replace' ? { address: rc.address, action, attributes: changedAttributes(rc.change) } : { address: rc.address, action })
  }
  const outputs = Object.entries(plan.output_changes ?? {})
    .filter(([, c]) => !(c.actions.length === 1 && c.actions[0] === 'no-op'))
    .map(([name]) => name)
  return { resources, outputs }
}

export function describePlan(s: PlanSummary): string {
  if (!s.changes) return 'no changes'
  const counts = `${s.add} to add, ${s.change} to change, ${s.destroy} to destroy`
  return s.add + s.change + s.destroy === 0 ? `${counts} (outputs change only)` : counts
}

const SIGN: Record<PlannedAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-', read: '<=' }
/** Changes, replacements and deletions first: those are what a second plan or a reviewer looks for. */
const ORDER: PlannedAction[] = ['delete', 'replace', 'update', 'create', 'read']
const LISTED = 12

/**
 * describePlan plus what changes, for the step's report line and the on-call engineer:
 * `0 to add, 1 to change, 0 to destroy: ~ module.x.aws_y.z (attr_a, attr_b)`, at most 12 entries.
 */
export function describePlanChanges(s: PlanSummary): string {
  const counts = describePlan(s)
  if (!s.changes) return counts
  const sorted = [...(s.resources ?? [])].sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action))
  const items = [
    ...sorted.map((r) => `${SIGN[r.action]} ${r.address}${r.attributes?.length ? ` (${r.attributes.join(', ')})` : ''}`),
    ...(s.outputs ?? []).map((o) => `output ${o}`),
  ]
  if (items.length === 0) return counts
  const more = items.length > LISTED ? `; … ${items.length - LISTED} more` : ''
  return `${counts}: ${items.slice(0, LISTED).join('; ')}${more}`
}

const planArgs = (ctx: Context, tfvars: string): string[] => [
  'plan',
  '-input=false',
  '-no-color',
  '-detailed-exitcode',
  '-lock-timeout=60s',
  `-var-file=${tfvars}`,
  `-out=${planFile(ctx)}`,
]

/** Plans made by check() in this process, so run() does not plan twice in a row (a prod plan takes minutes). */
const fresh = new Map<string, PlanSummary>()

/** Beside the saved plan: its summary and basis, so a deploy resumed after a kill reuses it while it still holds. */
export const planMetaFile = (ctx: Context): string => `${planFile(ctx)}.json`

/** Removes the saved plan and what is known about it (applied, or superseded by "no changes"). */
export function forgetSavedPlan(ctx: Context): void {
  rmSync(planFile(ctx), { force: true })
  rmSync(planMetaFile(ctx), { force: true })
}

export async function makePlan(ctx: Context): Promise<PlanSummary> {
  const tfvars = requireTfvars(ctx)
  const file = planFile(ctx)
  // read before terraform reads the state: if the state changes during the plan, the basis no longer holds
  const before = await currentBasis(ctx)
  const basis = before ? { ...before, runId: ctx.runId } : undefined
  ctx.log('terraform plan')
  const r = await terraform(ctx, { args: planArgs(ctx, tfvars), okExitCodes: [2], timeoutMs: 20 * 60_000 }).catch(async (err: unknown) => {
    // a killed apply's lock (or someone's running terraform): exit 3 naming it, not a raw terraform error
    if (err instanceof ExternalError && /Error acquiring the state lock/i.test(err.message)) throw await lockHeld(ctx)
    throw err
  })
  if (r.exitCode === 0) {
    // A plan file from an earlier run must not be applied later by mistake.
    forgetSavedPlan(ctx)
    return { add: 0, change: 0, destroy: 0, changes: false, planFile: file, destroys: [], basis }
  }
  const show = await terraform(ctx, { args: ['show', '-json', '-no-color', file] })
  const json = JSON.parse(show.stdout) as PlanJson
  const summary: PlanSummary = {
    ...summarize(json.resource_changes ?? []),
    ...plannedChanges(json),
    changes: true,
    planFile: file,
    planSha256: sha256File(file),
    basis,
  }
  fresh.set(file, summary)
  writeFileAtomic(planMetaFile(ctx), JSON.stringify(summary, null, 2) + '\n', 0o600)
  return summary
}

/**
 * The saved plan of this deploy, when nothing it was made from has changed (same state version,
 * same inputs, no run succeeded since): a deploy killed after terraform.plan resumes with it
 * instead of planning again. terraform apply itself still refuses it if the state moved.
 */
function reusablePlan(ctx: Context, now: Awaited<ReturnType<typeof currentBasis>>): PlanSummary | undefined {
  const file = planFile(ctx)
  if (!existsSync(file) || !existsSync(planMetaFile(ctx))) return undefined
  let saved: PlanSummary
  try {
    saved = JSON.parse(readFileSync(planMetaFile(ctx), 'utf8')) as PlanSummary
  } catch {
    return undefined
  }
  if (!saved.changes || saved.planSha256 !== sha256File(file) || !basisHolds(ctx, saved.basis, now)) return undefined
  return saved
}

/**
 * What the last plan or apply of this deploy left converged: terraform.apply's record after it
 * applied, or terraform.plan's own "no changes". Valid while the state object's version and the
 * inputs are the ones recorded then (./basis.ts).
 */
function converged(ctx: Context, now: Awaited<ReturnType<typeof currentBasis>>): { basis: PlanBasis; what: string } | undefined {
  const applied = ctx.state.outputs('terraform.apply')?.converged as PlanBasis | undefined
  const planned = ctx.state.outputs('terraform.plan') as PlanSummary | undefined
  const candidates: { basis?: PlanBasis; what: string }[] = [
    { basis: applied, what: 'applied' },
    { basis: planned && !planned.changes ? planned.basis : undefined, what: 'planned with no changes' },
  ]
  for (const c of candidates) if (c.basis && basisHolds(ctx, c.basis, now)) return { basis: c.basis, what: c.what }
  return undefined
}

/** Plan 2.3: a saved plan, summarised; "no changes" means there is nothing to apply. */
export const terraformPlan: Step<z.infer<typeof params>> = {
  id: 'terraform.plan',
  title: 'Terraform plan (saved, summarised)',
  description:
    'Plan 2.3: terraform plan -var-file=terraform.tfvars.json -out=<workdir>/terraform.tfplan; the add/change/destroy summary comes from terraform show -json. No changes → done.',
  danger: 'read',
  params,
  timeoutMs: 25 * 60_000,
  async plan(ctx) {
    return [commandLine(ctx, planArgs(ctx, '<workdir>/terraform.tfvars.json')), commandLine(ctx, ['show', '-json', planFile(ctx)])]
  },
  async check(ctx) {
    // A resumed deploy (killed, or stopped at the checklist) does not plan every resource again when
    // nothing a plan reads has changed since this deploy's last plan or apply (./basis.ts).
    const now = await currentBasis(ctx)
    const c = converged(ctx, now)
    if (c)
      return {
        status: 'done',
        detail: `${c.what} earlier in this deploy (run ${c.basis.runId}); state version and inputs unchanged since: not planned again`,
      }
    const saved = reusablePlan(ctx, now)
    if (saved) {
      fresh.set(saved.planFile, saved)
      return { status: 'todo', detail: `${describePlanChanges(saved)} (the plan saved by run ${saved.basis?.runId}; state version and inputs unchanged since)` }
    }
    const s = await makePlan(ctx)
    if (!s.changes) return { status: 'done', detail: 'no changes', outputs: { ...s } }
    return { status: 'todo', detail: describePlanChanges(s) }
  },
  async run(ctx) {
    const file = planFile(ctx)
    const memo = fresh.get(file)
    const s = memo && existsSync(file) && sha256File(file) === memo.planSha256 ? memo : await makePlan(ctx)
    fresh.delete(file)
    ctx.log(`plan: ${describePlanChanges(s)}`)
    if (s.destroy > 0) ctx.warn(`terraform plan destroys ${s.destroy} resource(s): ${s.destroys.join(', ')}`)
    return { ...s }
  },
  summary: (out) => describePlanChanges(out as unknown as PlanSummary),
}
