import type { CheckResult, Context } from '../../engine/types.js'
import { applyObjects, planApply, renderPlan, summarize, type ObjectChange } from '../../k8s/apply.js'
import type { KubeObject } from '../../k8s/objects.js'

/**
 * The shared shape of the steps that server-side apply a set of manifests: the plan is the
 * server-side dry-run diff, check() is "nothing would change", run() writes only what differs.
 */
export async function planObjects(ctx: Context, objects: KubeObject[]): Promise<string[]> {
  const changes = await planApply(ctx.clients.kube, objects)
  return [`server-side apply (field manager autolytiq, dry-run diff against the live cluster): ${summarize(changes)}`, ...renderPlan(changes)]
}

export async function checkObjects(ctx: Context, objects: KubeObject[]): Promise<CheckResult> {
  return checkResult(await planApply(ctx.clients.kube, objects))
}

/** done: nothing would change; todo: only creations; drift: live objects differ from the manifests. */
export function checkResult(changes: ObjectChange[]): CheckResult {
  const pending = changes.filter((c) => c.action !== 'unchanged')
  if (pending.length === 0) return { status: 'done', detail: `${changes.length} object(s) unchanged` }
  const updated = pending.filter((c) => c.action === 'update')
  if (updated.length === 0) return { status: 'todo', detail: `${pending.length} object(s) to create` }
  const names = updated.map((c) => c.ref)
  return { status: 'drift', detail: `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} differ from the manifests` }
}

export async function applyAndReport(ctx: Context, objects: KubeObject[]): Promise<{ created: string[]; updated: string[]; unchanged: number }> {
  const changes = await applyObjects(ctx.clients.kube, objects, { log: ctx.log })
  return {
    created: changes.filter((c) => c.action === 'create').map((c) => c.ref),
    updated: changes.filter((c) => c.action === 'update').map((c) => c.ref),
    unchanged: changes.filter((c) => c.action === 'unchanged').length,
  }
}
