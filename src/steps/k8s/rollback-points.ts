import { StepFailedError } from '../../engine/errors.js'
import type { RollbackPoint } from '../../engine/state.js'
import type { Context } from '../../engine/types.js'
import { executeChanges, problemsOf } from '../../rollback/execute.js'
import { RESTORABLE_KINDS, parseRollbackPoint, type WorkloadRecord } from '../../rollback/points.js'
import { planRestore } from '../../rollback/restore.js'

/** How long an automatic rollback may wait for its rollouts. */
const RESTORE_TIMEOUT_MS = 10 * 60_000

/**
 * Restores the workloads recorded in rollback points (`k8s.workloads` from k8s.deploy,
 * `k8s.deployment-images` from `autolytiq rollback`) to what they ran before: applies, waits with
 * fail-fast, verifies, audits each one. With several points for one workload the oldest wins —
 * that is what ran before the run changed anything. Returns a one-line summary; throws when a
 * workload could not be restored and verified.
 */
export async function rollbackToPoints(ctx: Context, points: RollbackPoint[]): Promise<string> {
  const notes: string[] = []
  const targets = new Map<string, { namespace: string; record: WorkloadRecord }>()
  const oldestFirst = [...points].sort((a, b) => a.at.localeCompare(b.at))
  for (const p of oldestFirst.filter((x) => RESTORABLE_KINDS.includes(x.kind))) {
    const { recorded, problems } = parseRollbackPoint(p)
    notes.push(...problems)
    for (const [name, record] of Object.entries(recorded?.workloads ?? {})) if (!targets.has(name)) targets.set(name, { namespace: recorded!.namespace, record })
  }
  if (targets.size === 0) return `nothing to restore: no rollback point (${RESTORABLE_KINDS.join(', ')}) names a workload${notes.length ? ` (${notes.join('; ')})` : ''}`

  const planned = await Promise.all([...targets].map(([name, t]) => planRestore(ctx, t.namespace, name, t.record)))
  const todo = planned.filter((c) => !c.noop)
  const unchanged = planned.filter((c) => c.noop).map((c) => `${c.service} (${c.noop})`)
  if (todo.length === 0) return `nothing to restore: ${unchanged.join(', ')}`

  const outcome = await executeChanges(ctx, todo, { signal: ctx.signal, timeoutMs: RESTORE_TIMEOUT_MS })
  const problems = problemsOf(outcome)
  const restored = todo
    .filter((c) => outcome.changed.includes(c.service))
    .map((c) => `${c.service} ${Object.values(c.before).join(', ')} -> ${Object.values(c.after).join(', ')}`)
  if (problems.length) throw new StepFailedError(`restored ${restored.join('; ') || 'nothing'}, but: ${problems.join('; ')}`)
  const extra = [...(unchanged.length ? [`unchanged: ${unchanged.join(', ')}`] : []), ...notes]
  return `restored and verified ${restored.join('; ')}${extra.length ? ` (${extra.join('; ')})` : ''}`
}
