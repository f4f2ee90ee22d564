import type { RunbookStep } from './runbook.js'
import type { Context } from './types.js'

/**
 * deploy --auto-rollback: roll back the services this run changed to their recorded rollback
 * points. The Kubernetes rollback implementation registers itself here (issue: rollbacks).
 */
export async function rollbackChangedServices(failed: RunbookStep, _err: unknown, ctx: Context): Promise<string | undefined> {
  const points = ctx.state.rollbackPoints().filter((p) => p.runId === ctx.runId)
  if (points.length === 0) return `nothing to roll back: ${failed.id} failed before any rollback point was recorded`
  const { rollbackToPoints } = await import('../steps/k8s/rollback-points.js').catch(() => ({ rollbackToPoints: undefined }))
  if (!rollbackToPoints) return `rollback points recorded (${points.length}) but no rollback implementation is available; use \`autolytiq rollback\``
  return rollbackToPoints(ctx, points)
}
