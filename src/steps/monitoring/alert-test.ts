import { z } from 'zod'
import { provedOnNow, staleBecause } from '../verify/proved-on.js'
import { ExternalError, StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { monitoringBase, monitoringRequest } from '../../checks/monitoring-endpoint.js'
import { SYNTHETIC_ALERT } from './alertmanager-config.js'

const params = z
  .object({
    /** Send again even though this release's test alert was already accepted. */
    force: z.boolean().default(false),
    timeoutSeconds: z.number().int().min(1).max(600).default(30),
    /** How long the synthetic alert stays active before it resolves itself. */
    activeMinutes: z.number().int().min(1).max(60).default(5),
  })
  .strict()
type Params = z.infer<typeof params>

interface ListedAlert {
  labels: Record<string, string>
  status?: { state?: string }
}

async function listed(ctx: Context, runId: string): Promise<ListedAlert | undefined> {
  const filter = [`alertname="${SYNTHETIC_ALERT}"`, `run_id="${runId}"`].map((f) => `filter=${encodeURIComponent(f)}`).join('&')
  const res = await monitoringRequest(ctx, 'alertmanager', `api/v2/alerts?${filter}`, { timeoutMs: 10_000, signal: ctx.signal })
  if (res.status !== 200) throw new ExternalError(`GET ${res.url}: HTTP ${res.status} ${res.body.slice(0, 200)}`)
  return (JSON.parse(res.body) as ListedAlert[])[0]
}

/**
 * Plan 7.6 proven rather than assumed: a synthetic alert is posted to Alertmanager's API and must
 * come back from its alert list (so routing accepted it). It resolves itself after a few minutes.
 * Once per release: a re-run does not page anyone again unless `force` is set.
 */
export const monitoringAlertTest: Step<Params> = {
  id: 'monitoring.alert-test',
  title: 'Synthetic alert through Alertmanager',
  description: `Plan 7.6: posts the synthetic alert ${SYNTHETIC_ALERT} to Alertmanager's API and waits until Alertmanager lists it; once per release.`,
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const base = monitoringBase(ctx, 'alertmanager')
    return [
      `POST ${base}/api/v2/alerts [{labels: {alertname: ${SYNTHETIC_ALERT}, severity: info, environment: ${ctx.envName}, run_id: <run id>}, endsAt: now+${p.activeMinutes}m}]`,
      `GET ${base}/api/v2/alerts?filter=alertname="${SYNTHETIC_ALERT}" until listed (deadline ${p.timeoutSeconds} s)`,
    ]
  },
  async check(ctx, p) {
    const previous = ctx.state.outputs('monitoring.alert-test')
    // Evidence counts only for the environment it was gathered on (a rebuilt cluster needs it again).
    const stale = previous && staleBecause(previous.provedOn, await provedOnNow(ctx))
    if (!p.force && previous?.release === ctx.env.release && !stale)
      return { status: 'done', detail: `test alert for ${ctx.env.release} accepted at ${String(previous.acceptedAt)}` }
    return { status: 'todo', detail: previous && stale ? `the last test alert no longer counts: ${stale}` : `no test alert sent for ${ctx.env.release} yet` }
  },
  async run(ctx, p) {
    const now = new Date()
    const alert = {
      labels: { alertname: SYNTHETIC_ALERT, severity: 'info', environment: ctx.envName, run_id: ctx.runId },
      annotations: {
        summary: `autolytiq go-live test alert for ${ctx.envName} (${ctx.env.release}); no action needed`,
        description: `Sent by \`autolytiq deploy --env ${ctx.envName}\` (monitoring.alert-test) to prove alerts reach the on-call receiver.`,
      },
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + p.activeMinutes * 60_000).toISOString(),
      generatorURL: 'https://github.com/autolytiq/autolytiq#monitoring.alert-test',
    }
    const res = await monitoringRequest(ctx, 'alertmanager', 'api/v2/alerts', { method: 'POST', body: [alert], timeoutMs: 10_000, signal: ctx.signal })
    if (res.status !== 200) throw new ExternalError(`Alertmanager refused the test alert: HTTP ${res.status} ${res.body.slice(0, 300)}`)
    ctx.log(`posted ${SYNTHETIC_ALERT}; waiting for Alertmanager to list it`)
    const deadline = Date.now() + p.timeoutSeconds * 1000
    // Alertmanager has no change feed: poll its list briefly (it usually appears at once).
    for (;;) {
      const found = await listed(ctx, ctx.runId)
      if (found)
        return {
          release: ctx.env.release,
          acceptedAt: new Date().toISOString(),
          state: found.status?.state ?? 'active',
          runId: ctx.runId,
          provedOn: await provedOnNow(ctx),
        }
      if (Date.now() >= deadline)
        throw new StepFailedError(
          `Alertmanager accepted ${SYNTHETIC_ALERT} but did not list it within ${p.timeoutSeconds} s`,
          "check Alertmanager's logs and that its configuration (Secret monitoring/alertmanager-config) loaded",
        )
      await new Promise((r) => setTimeout(r, 250))
    }
  },
}
