import { userInfo } from 'node:os'
import { z } from 'zod'
import type { Step } from '../../engine/types.js'
import { sameRollback, target } from './db-target.js'

const params = z.object({}).strict()
const STEP = 'rollback.db.confirm'

/**
 * The typed confirmation, after the snapshot is known and before anything stops: the engineer
 * reads exactly what will happen and types the environment name. Recorded, so a resumed run
 * does not ask again for the same rollback.
 */
export const dbConfirm: Step<z.infer<typeof params>> = {
  id: STEP,
  title: 'Typed confirmation',
  description:
    'Shows the snapshot, the new cluster and the downtime (application Deployments scaled to zero until the restore is available) and asks the engineer to type the environment name (--yes in CI).',
  danger: 'mutating',
  params,
  async plan(ctx) {
    const t = target(ctx)
    return [`ask to type "${ctx.envName}" before restoring ${t.snapshotId} as ${t.restoredCluster}`]
  },
  async check(ctx) {
    const t = target(ctx)
    if (sameRollback(ctx.state.outputs(STEP), t)) return { status: 'done', detail: `confirmed by ${String(ctx.state.outputs(STEP)?.by)}` }
    return { status: 'todo', detail: 'not confirmed yet' }
  },
  async run(ctx) {
    const t = target(ctx)
    const what = [
      `DATABASE ROLLBACK of ${ctx.envName}${ctx.env.production ? ' (PRODUCTION)' : ''}:`,
      `  restore snapshot ${t.snapshotId}${t.snapshotTime ? ` taken ${t.snapshotTime}` : ''} as the new cluster ${t.restoredCluster}`,
      `  the application Deployments that use the database are scaled to ZERO until it is available (downtime),`,
      `  then ${t.secretId} points at the new cluster and they come back at their current replica counts.`,
      `  Data written to ${t.sourceCluster} after the snapshot is not in the restore; ${t.sourceCluster} itself is kept.`,
    ].join('\n')
    await ctx.prompt.typed(what, ctx.envName, 'database rollback')
    return { restoredCluster: t.restoredCluster, snapshotId: t.snapshotId, by: userInfo().username, at: new Date().toISOString() }
  },
}
