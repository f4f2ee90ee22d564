import { createHash } from 'node:crypto'
import { stringify } from 'yaml'
import { UserError } from '../../engine/errors.js'
import { slackWebhookUrl } from '../../notify/webhook.js'
import type { Context } from '../../engine/types.js'

/** Label of the synthetic alert monitoring.alert-test sends (routed like any other). */
export const SYNTHETIC_ALERT = 'AutolytiqSyntheticTest'

/**
 * The Slack webhook Alertmanager posts to (autolytiq.yaml slackWebhook: an env var name or a
 * Secrets Manager id — never the URL itself). Same lookup as run notifications, but stricter:
 * a configured webhook that cannot be read is an error here, because alerts would go nowhere.
 */
export async function slackWebhook(ctx: Context): Promise<string | undefined> {
  const found = await slackWebhookUrl(ctx)
  if (found.kind === 'not-configured') return undefined
  if (found.kind === 'problem')
    throw new UserError(
      found.problem,
      'set the webhook: export the variable named in slackWebhook.env, or store the URL (or {"url": "..."}) in slackWebhook.secretId',
    )
  return found.url
}

/**
 * Alertmanager's whole configuration: routes from the plan (7.6: group by alertname and service,
 * 1 h repeat), critical alerts repeated sooner, and a receiver that posts to Slack when a webhook
 * is configured. It goes into the Secret alertmanager-config because it holds the webhook URL.
 */
export function renderAlertmanagerConfig(ctx: Pick<Context, 'envName'>, webhook: string | undefined): string {
  const receiver: Record<string, unknown> = { name: 'on-call' }
  if (webhook)
    receiver.slack_configs = [
      {
        api_url: webhook,
        channel: `#alerts-${ctx.envName}`,
        send_resolved: true,
        title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.namespace }})',
        text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}',
      },
    ]
  const config = {
    route: {
      receiver: 'on-call',
      group_by: ['alertname', 'namespace', 'job'],
      group_wait: '10s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes: [{ matchers: ['severity="critical"'], receiver: 'on-call', repeat_interval: '1h' }],
    },
    receivers: [receiver],
    inhibit_rules: [
      // a whole service down makes its per-pod "down" alerts noise
      { source_matchers: ['alertname="ServiceUnavailable"'], target_matchers: ['alertname="ServiceDown"'], equal: ['namespace', 'job'] },
    ],
  }
  return stringify(config)
}

export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}
