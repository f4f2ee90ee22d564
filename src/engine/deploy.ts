import { buildContext } from './context.js'
import { loadRunbook, selectSteps, type Selection } from './runbook.js'
import { runRunbook, type RunReport, type RunOptions } from './runner.js'
import { stepRegistry } from '../steps/index.js'
import { EXIT } from './errors.js'
import type { Context } from './types.js'

export interface DeployOptions extends Selection {
  env?: string
  runbook?: string
  dryRun: boolean
  yes: boolean
  json: boolean
  autoRollback?: boolean
  onFailure?: RunOptions['onFailure']
}

/** `autolytiq deploy`: the go-live runbook (or another) for one environment. The command tells the team (notify) with the returned context. */
export async function deploy(opts: DeployOptions): Promise<{ report: RunReport; exitCode: number; ctx: Context }> {
  const { ctx, lock } = await buildContext({ env: opts.env, dryRun: opts.dryRun, yes: opts.yes })
  const runbook = loadRunbook(ctx.root, opts.runbook ?? 'go-live', stepRegistry(), {
    source: `autolytiq.yaml environments.${ctx.envName}.stepParams`,
    params: ctx.env.stepParams,
  })
  const steps = selectSteps(runbook, opts)
  const report = await runRunbook(ctx, { command: 'deploy', runbook, steps, lock, json: opts.json, onFailure: opts.autoRollback ? opts.onFailure : undefined })
  return { report, exitCode: reportExitCode(report), ctx }
}

/** A run's exit code: a user error inside a step (missing tool, bad input) stays exit 2. */
export function reportExitCode(report: RunReport): number {
  if (report.result === 'interrupted') return EXIT.interrupted
  if (report.result === 'failed') return report.error?.exitCode ?? EXIT.failed
  return EXIT.ok
}
