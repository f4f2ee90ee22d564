import { buildContext } from './context.js'
import { loadRunbook, selectSteps, type Selection } from './runbook.js'
import { runRunbook, type RunReport, type RunOptions } from './runner.js'
import { stepRegistry } from '../steps/index.js'
import { EXIT } from './errors.js'
import { notifyRunReport } from '../notify/index.js'

export interface DeployOptions extends Selection {
  env?: string
  runbook?: string
  dryRun: boolean
  yes: boolean
  json: boolean
  autoRollback?: boolean
  onFailure?: RunOptions['onFailure']
}

/** `autolytiq deploy`: the go-live runbook (or another) for one environment. */
export async function deploy(opts: DeployOptions): Promise<{ report: RunReport; exitCode: number }> {
  const { ctx, lock } = await buildContext({ env: opts.env, dryRun: opts.dryRun, yes: opts.yes })
  const runbook = loadRunbook(ctx.root, opts.runbook ?? 'go-live', stepRegistry())
  const steps = selectSteps(runbook, opts)
  const report = await runRunbook(ctx, { command: 'deploy', runbook, steps, lock, json: opts.json, onFailure: opts.autoRollback ? opts.onFailure : undefined })
  // Tell the team (Slack, when configured); a failed post is a warning, never a different exit code.
  await notifyRunReport(ctx, 'deploy', report)
  return { report, exitCode: reportExitCode(report) }
}

/** A run's exit code: a user error inside a step (missing tool, bad input) stays exit 2. */
export function reportExitCode(report: RunReport): number {
  if (report.result === 'interrupted') return EXIT.interrupted
  if (report.result === 'failed') return report.error?.exitCode ?? EXIT.failed
  return EXIT.ok
}
