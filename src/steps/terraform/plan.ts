import { existsSync, rmSync } from 'node:fs'
import { z } from 'zod'
import type { Context, Step } from '../../engine/types.js'
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
}

interface ResourceChange {
  address: string
  change: { actions: string[] }
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

export function describePlan(s: PlanSummary): string {
  if (!s.changes) return 'no changes'
  const counts = `${s.add} to add, ${s.change} to change, ${s.destroy} to destroy`
  return s.add + s.change + s.destroy === 0 ? `${counts} (outputs change only)` : counts
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

async function makePlan(ctx: Context): Promise<PlanSummary> {
  const tfvars = requireTfvars(ctx)
  const file = planFile(ctx)
  ctx.log('terraform plan')
  const r = await terraform(ctx, { args: planArgs(ctx, tfvars), okExitCodes: [2], timeoutMs: 20 * 60_000 })
  if (r.exitCode === 0) {
    // A plan file from an earlier run must not be applied later by mistake.
    rmSync(file, { force: true })
    return { add: 0, change: 0, destroy: 0, changes: false, planFile: file, destroys: [] }
  }
  const show = await terraform(ctx, { args: ['show', '-json', '-no-color', file] })
  const json = JSON.parse(show.stdout) as { resource_changes?: ResourceChange[] }
  const summary: PlanSummary = { ...summarize(json.resource_changes ?? []), changes: true, planFile: file, planSha256: sha256File(file) }
  fresh.set(file, summary)
  return summary
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
    const s = await makePlan(ctx)
    if (!s.changes) return { status: 'done', detail: 'no changes', outputs: { ...s } }
    return { status: 'todo', detail: describePlan(s) }
  },
  async run(ctx) {
    const file = planFile(ctx)
    const memo = fresh.get(file)
    const s = memo && existsSync(file) && sha256File(file) === memo.planSha256 ? memo : await makePlan(ctx)
    fresh.delete(file)
    ctx.log(`plan: ${describePlan(s)}${s.destroys.length ? `; destroys ${s.destroys.join(', ')}` : ''}`)
    if (s.destroy > 0) ctx.warn(`terraform plan destroys ${s.destroy} resource(s): ${s.destroys.join(', ')}`)
    return { ...s }
  },
}
