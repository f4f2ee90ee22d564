import { createHash } from 'node:crypto'
import { stringify } from 'yaml'
import { ExternalError, UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context } from '../../engine/types.js'

/** Label of the synthetic alert monitoring.alert-test sends (routed like any other). */
export const SYNTHETIC_ALERT = 'AutolytiqSyntheticTest'

/**
 * The Slack webhook for this environment (autolytiq.yaml slackWebhook: an env var name or a
 * Secrets Manager id — never the URL itself). Registered as a secret before anything can print it.
 */
export async function slackWebhook(ctx: Context): Promise<string | undefined> {
  const cfg = ctx.env.slackWebhook
  if (!cfg) return undefined
  if (cfg.env) {
    const value = process.env[cfg.env]
    registerSecret(value)
    if (value) return value
    if (!cfg.secretId)
      throw new UserError(
        `the Slack webhook variable ${cfg.env} is not set`,
        `export ${cfg.env}=<webhook URL> (kept out of every log), or set slackWebhook.secretId`,
      )
  }
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
  try {
    const out = await (await ctx.clients.aws.secrets()).send(new GetSecretValueCommand({ SecretId: cfg.secretId }))
    const raw = out.SecretString ?? ''
    registerSecret(raw)
    // either the URL itself or a JSON document with a url field
    const value = raw.trim().startsWith('{') ? String((JSON.parse(raw) as { url?: unknown }).url ?? '') : raw.trim()
    registerSecret(value)
    if (!value) throw new UserError(`Secrets Manager secret ${cfg.secretId} holds no Slack webhook URL`, 'store the URL (or {"url": "..."}) in it')
    return value
  } catch (err) {
    if (err instanceof UserError) throw err
    throw new ExternalError(`cannot read the Slack webhook from Secrets Manager (${cfg.secretId}): ${(err as Error).message}`)
  }
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
