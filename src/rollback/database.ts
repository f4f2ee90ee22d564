import { buildContext } from '../engine/context.js'
import { EXIT, UserError } from '../engine/errors.js'
import { loadRunbook } from '../engine/runbook.js'
import { runRunbook, type RunReport } from '../engine/runner.js'
import { stepRegistry } from '../steps/index.js'
import { SNAPSHOT_STEP } from '../steps/rollback/db-target.js'

export interface DatabaseRollbackRequest {
  env?: string
  snapshot?: string
  latest: boolean
  dryRun: boolean
  yes: boolean
  json: boolean
}

export const DATABASE_RUNBOOK = 'rollback-database'

/**
 * `autolytiq rollback database --snapshot ID | --latest`: runs runbooks/rollback-database.yaml
 * through the same engine as deploy (lock, confirmation, state at every transition, resume).
 * The flags become the parameters of its first step, validated by that step's schema.
 */
export async function rollbackDatabase(req: DatabaseRollbackRequest): Promise<{ report: RunReport; exitCode: number }> {
  if (req.snapshot && req.latest) throw new UserError('--snapshot and --latest exclude each other', 'name one snapshot, or take the newest with --latest')
  if (!req.snapshot && !req.latest)
    throw new UserError(
      'say which snapshot to restore: --snapshot ID or --latest',
      `list them with \`autolytiq rollback database --env ${req.env ?? process.env.AUTOLYTIQ_ENV ?? '<env>'} --latest --dry-run\``,
    )
  const { ctx, lock } = await buildContext({ env: req.env, dryRun: req.dryRun, yes: req.yes })
  const registry = stepRegistry()
  const runbook = loadRunbook(ctx.root, DATABASE_RUNBOOK, registry)
  const first = runbook.steps.find((s) => s.uses === SNAPSHOT_STEP)
  if (!first?.impl) throw new UserError(`runbook ${runbook.file} has no ${SNAPSHOT_STEP} step`, 'restore runbooks/rollback-database.yaml')
  first.params = first.impl.params.parse({ ...(first.params as object), snapshot: req.snapshot, latest: req.latest })
  // Validate before asking: an unknown snapshot, or another rollback half-done, is refused here
  // (exit 2) before the lock and the confirmation. The runner checks again; it is read-only.
  await first.impl.check(ctx, first.params)
  const report = await runRunbook(ctx, { command: 'rollback database', runbook, steps: runbook.steps, lock, json: req.json })
  const exitCode = report.result === 'interrupted' ? EXIT.interrupted : report.result === 'failed' ? EXIT.failed : EXIT.ok
  return { report, exitCode }
}
