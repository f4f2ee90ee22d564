import { HttpClient } from '../clients/http.js'
import { errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import type { RunReport } from '../engine/runner.js'
import type { Context } from '../engine/types.js'
import { slackMessage } from './slack.js'
import { ciRunUrl, summaryFromRunReport, whoRan, type RunSummary } from './summary.js'
import { slackWebhookUrl } from './webhook.js'

export { summaryFromRunReport, type RunSummary } from './summary.js'
export { checklistSummary, serviceRollbackSummary } from './summaries.js'

/** Slack answers in well under a second; a hung webhook must not hold a finished run hostage. */
const POST_TIMEOUT_MS = 5_000

export interface NotifyResult {
  status: 'sent' | 'not-configured' | 'failed'
  /** Set when a configured notification could not be sent: show it as a warning. */
  warning?: string
}

/**
 * Posts the run's summary to the environment's Slack webhook. Never throws and never changes the
 * run's result or exit code: a problem comes back as a warning for the report.
 */
export async function notifyRunFinished(ctx: Context, summary: RunSummary): Promise<NotifyResult> {
  if (ctx.dryRun) return { status: 'not-configured' }
  const failed = (why: string): NotifyResult => ({
    status: 'failed',
    warning: redact(`Slack notification not sent: ${why}; the ${summary.command} result is unaffected`),
  })
  try {
    const hook = await slackWebhookUrl(ctx)
    if (hook.kind === 'not-configured') return { status: 'not-configured' }
    if (hook.kind === 'problem') return failed(hook.problem)
    // Everything leaving the process is redacted: a failure reason may quote a secret.
    const body = redact(JSON.stringify(slackMessage(summary, whoRan(), ciRunUrl())))
    const res = await webhookClient(ctx).request({
      url: hook.url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      timeoutMs: POST_TIMEOUT_MS,
    })
    if (res.status < 200 || res.status >= 300) return failed(`the webhook answered HTTP ${res.status}${res.body ? ` (${res.body.trim().slice(0, 100)})` : ''}`)
    return { status: 'sent' }
  } catch (err) {
    return failed(errorMessage(err))
  }
}

/** The same for a runbook run (deploy, rollback runbooks): adds a failed notification to the report's warnings. */
export async function notifyRunReport(ctx: Context, command: string, report: RunReport, reportLink?: string): Promise<NotifyResult> {
  const summary = summaryFromRunReport(command, report, reportLink)
  if (!summary) return { status: 'not-configured' }
  const result = await notifyRunFinished(ctx, summary)
  if (result.warning) report.warnings.push(result.warning)
  return result
}

/** For results without a warnings list (rollback, checklist): the warnings to show, [] when none or nothing to tell. */
export async function notifyWarnings(ctx: Context, summary: RunSummary | undefined): Promise<string[]> {
  if (!summary) return []
  const result = await notifyRunFinished(ctx, summary)
  return result.warning ? [result.warning] : []
}

/**
 * The sandbox resolves names with its own DNS server, which knows only the sandbox's zone; Slack
 * lives on the internet, so its webhook goes through the system resolver there.
 */
function webhookClient(ctx: Context): HttpClient {
  return ctx.env.dnsServers?.length ? new HttpClient() : ctx.clients.http
}
