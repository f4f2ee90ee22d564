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
export async function rollbackChangedServices(
  failed: RunbookStep,
  err: unknown,
  ctx: Context,
  opts: { pastMigration?: boolean } = {},
): Promise<string | undefined> {
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
  const migration = migratedThisRun(ctx)
  if (migration) {
    // The previous images expect the previous schema: putting them back on a migrated database
    // can break them worse than the failed release. Never silently.
    const warning = `k8s.migrate moved the database schema forward in this run (Job ${migration}); the previous images would run against the new schema`
    if (!opts.pastMigration) {
      if (!ctx.prompt.interactive) {
        const why = `NOT rolled back: ${warning}. Roll forward with a fix, or roll back deliberately: \`autolytiq rollback --env ${ctx.envName} --service <name>\` (or deploy with --auto-rollback --rollback-past-migration)`
        await audit('skipped', why)
        return why
      }
      try {
        await ctx.prompt.typed(
          `${failed.id} failed. ${warning}. Type the environment name to roll the services back anyway`,
          ctx.envName,
          'automatic rollback past a migration',
        )
      } catch (promptErr) {
        const why = `NOT rolled back (not confirmed): ${warning}`
        await audit('skipped', `${why}: ${errorMessage(promptErr)}`)
        return why
      }
    }
    ctx.warn(`rolling back past a migration: ${warning}`)
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

/** The migration Job k8s.migrate ran (changed) in this run, if it did. */
function migratedThisRun(ctx: Context): string | undefined {
  for (const [runbook, steps] of Object.entries(ctx.state.state.steps ?? {})) {
    const st = (steps as Record<string, { runId?: string; changed?: boolean }>)['k8s.migrate']
    if (st?.runId === ctx.runId && st.changed) return String(ctx.state.outputs('k8s.migrate')?.job ?? `of ${runbook}`)
  }
  return undefined
}
