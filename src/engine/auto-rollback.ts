import { errorMessage } from './errors.js'
import { redact } from './redact.js'
import type { RunbookStep } from './runbook.js'
import type { Context } from './types.js'

/**
 * deploy --auto-rollback: when a rollout or the post-deploy verification fails, restore the
 * services this run changed to the rollback points it recorded, verify them, and write the
 * outcome to the audit log. Returns the summary the run report shows; throws when the rollback
 * itself failed (the runner reports "automatic rollback FAILED: ...").
 */
export async function rollbackChangedServices(failed: RunbookStep, err: unknown, ctx: Context): Promise<string | undefined> {
  const points = ctx.state.rollbackPoints().filter((p) => p.runId === ctx.runId)
  const audit = (result: 'started' | 'ok' | 'failed' | 'skipped', detail: string): Promise<void> =>
    ctx.audit.append({
      runId: ctx.runId,
      environment: ctx.envName,
      action: 'rollback.auto',
      step: failed.id,
      params: { cause: redact(errorMessage(err)), points: points.length },
      result,
      detail: redact(detail),
    })
  if (points.length === 0) {
    const why = `nothing to roll back: ${failed.id} failed before any rollback point was recorded`
    await audit('skipped', why)
    return why
  }
  const { rollbackToPoints } = await import('../steps/k8s/rollback-points.js')
  await audit('started', `${failed.id} failed; restoring ${points.length} rollback point(s) of this run`)
  try {
    const summary = await rollbackToPoints(ctx, points)
    await audit('ok', summary)
    return `${failed.id} failed, so: ${summary}`
  } catch (rbErr) {
    await audit('failed', errorMessage(rbErr))
    throw rbErr
  }
}
