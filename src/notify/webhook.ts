import { errorMessage } from '../engine/errors.js'
import { registerSecret } from '../engine/redact.js'
import type { Context } from '../engine/types.js'

/** Where the webhook URL came from, or why there is none. The URL is a credential: never shown. */
export type WebhookLookup = { kind: 'found'; url: string; source: string } | { kind: 'not-configured' } | { kind: 'problem'; problem: string }

/** A secret holding JSON ({"url": "..."}) is common when one secret carries several values. */
const JSON_KEYS = ['url', 'webhookUrl', 'webhook_url', 'SLACK_WEBHOOK_URL']

function fromSecretString(value: string): string | undefined {
  const trimmed = value.trim()
  if (!trimmed.startsWith('{')) return trimmed
  try {
    const obj = JSON.parse(trimmed) as Record<string, unknown>
    for (const k of JSON_KEYS) if (typeof obj[k] === 'string') return obj[k] as string
  } catch {
    // not JSON after all: treat it as the URL itself and let validation speak
    return trimmed
  }
  return undefined
}

function validated(url: string, source: string): WebhookLookup {
  registerSecret(url)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { kind: 'problem', problem: `the Slack webhook in ${source} is not a URL` }
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return { kind: 'problem', problem: `the Slack webhook in ${source} is not an http(s) URL` }
  return { kind: 'found', url, source }
}

/**
 * The environment's Slack incoming-webhook URL: from the variable named by `slackWebhook.env`
 * when it is set, else from the Secrets Manager secret `slackWebhook.secretId`. Never from the
 * config file itself. Read-only; never throws.
 */
export async function slackWebhookUrl(ctx: Context): Promise<WebhookLookup> {
  const cfg = ctx.env.slackWebhook
  if (!cfg || (!cfg.env && !cfg.secretId)) return { kind: 'not-configured' }
  const fromEnv = cfg.env ? process.env[cfg.env]?.trim() : undefined
  if (fromEnv) return validated(fromEnv, `$${cfg.env}`)
  if (cfg.secretId) {
    try {
      const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
      const sm = await ctx.clients.aws.secrets()
      const res = await sm.send(new GetSecretValueCommand({ SecretId: cfg.secretId }), { abortSignal: AbortSignal.timeout(10_000) })
      registerSecret(res.SecretString)
      const url = res.SecretString ? fromSecretString(res.SecretString) : undefined
      if (!url) return { kind: 'problem', problem: `Secrets Manager secret ${cfg.secretId} holds no webhook URL (a plain URL, or JSON with "url")` }
      return validated(url, `Secrets Manager secret ${cfg.secretId}`)
    } catch (err) {
      return { kind: 'problem', problem: `cannot read Secrets Manager secret ${cfg.secretId}: ${errorMessage(err).split('\n')[0]}` }
    }
  }
  return { kind: 'problem', problem: `$${cfg.env} is not set (slackWebhook.env of environment ${ctx.envName})` }
}
