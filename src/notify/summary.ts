import { hostname, userInfo } from 'node:os'
import type { RunReport } from '../engine/runner.js'

/** What a finished run tells the team: enough to know whether to look, and where. */
export interface RunSummary {
  /** The autolytiq command that ran: deploy, rollback, checklist. */
  command: string
  environment: string
  release: string
  result: 'succeeded' | 'failed' | 'interrupted'
  durationMs: number
  runId?: string
  /** One line on what happened, e.g. "3 step(s) changed, 12 already done". */
  outcome?: string
  failedStep?: string
  reason?: string
  /** What deploy --auto-rollback did after the failure. */
  rollback?: string
  /** A report worth opening: a URL, or the path of a file the run wrote. */
  report?: string
}

/** Who ran it: the GitHub actor in Actions (the runner's OS user means nothing), else user@host. */
export function whoRan(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_ACTOR) return `${env.GITHUB_ACTOR} (GitHub Actions)`
  let user = env.USER ?? 'unknown'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return `${user}@${hostname()}`
}

/** The Actions run page when running in GitHub Actions: where the logs and artifacts are. */
export function ciRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined
}

/** The summary of a runbook run (deploy, or a rollback runbook); undefined for a dry run, which changes nothing. */
export function summaryFromRunReport(command: string, r: RunReport, report?: string): RunSummary | undefined {
  if (r.result === 'dry-run') return undefined
  const outcome =
    r.result === 'succeeded'
      ? r.changed === 0 && r.checked === 0
        ? `nothing to do: all ${r.unchanged + r.skipped} step(s) already done${r.skipped ? ` (${r.skipped} skipped)` : ''}`
        : `${r.changed} step(s) changed, ${r.checked ? `${r.checked} read-only checked, ` : ''}${r.unchanged} already done${r.skipped ? `, ${r.skipped} skipped` : ''}`
      : undefined
  return {
    command,
    environment: r.environment,
    release: r.release,
    result: r.result,
    durationMs: r.durationMs,
    runId: r.runId,
    outcome,
    failedStep: r.error?.step,
    reason: r.error?.message,
    rollback: r.rollback,
    report,
  }
}
