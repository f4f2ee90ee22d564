import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { isAwsError, listSome } from './util.js'

/** What terraform/modules/secrets writes where a person must supply the value. */
export const PLACEHOLDER = 'REPLACE_ME'

interface SecretSpec {
  /** generated: terraform makes the value; provided: a person supplies it (third-party credentials). */
  source: 'generated' | 'provided'
  required: string[]
  optional?: string[]
}

/** Plan 3.5's eight secrets and the JSON fields each must hold. */
export const SECRETS: Record<string, SecretSpec> = {
  database: { source: 'generated', required: ['host', 'port', 'dbname', 'username', 'password'] },
  redis: { source: 'generated', required: ['host', 'port', 'auth_token'] },
  jwt: { source: 'generated', required: ['secret'] },
  'pii-encryption': { source: 'generated', required: ['key'] },
  session: { source: 'generated', required: ['secret'] },
  smtp: { source: 'provided', required: ['host', 'port', 'username', 'password', 'from'] },
  resend: { source: 'provided', required: ['api_key'] },
  'external-apis': { source: 'provided', required: ['sentry_dsn', 'stripe_secret_key', 'stripe_webhook_secret'], optional: ['datadog_api_key'] },
}

const CREDENTIAL_FIELD = /pass|token|secret|key|dsn/i

const NAMES = Object.keys(SECRETS) as [string, ...string[]]

const params = z
  .object({
    /** Which secrets to check (default all eight); unknown names are refused when the runbook loads. */
    secrets: z.array(z.enum(NAMES)).default(NAMES),
  })
  .strict()

export const secretId = (ctx: Context, name: string): string => `autolytiq/${ctx.envName}/${name}`

/** AUTOLYTIQ_SECRET_RESEND_API_KEY, AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_SECRET_KEY, ... */
export const envVarFor = (name: string, field: string): string => `AUTOLYTIQ_SECRET_${name}_${field}`.toUpperCase().replace(/[^A-Z0-9]/g, '_')

/** The plan's sample values (re_xxxx, sk_live_xxxxx, https://xxx@xxx.ingest.sentry.io/xxx) count as placeholders too. */
export function isPlaceholder(value: unknown): boolean {
  if (value === undefined || value === null) return true
  const v = String(value).trim()
  return v === '' || v.includes(PLACEHOLDER) || /CHANGE_?ME|<[^>]+>/i.test(v) || /x{5,}/i.test(v) || /(^|\/\/)xxx@/i.test(v)
}

/** The variables a person may set: the fields of the provided (third-party) secrets. */
export function secretVariables(): string[] {
  return Object.entries(SECRETS)
    .filter(([, s]) => s.source === 'provided')
    .flatMap(([n, s]) => [...s.required, ...(s.optional ?? [])].map((f) => envVarFor(n, f)))
}

/** An AUTOLYTIQ_SECRET_* variable that matches no field is a typo that would silently be ignored. */
function unknownSecretVariables(): string[] {
  const known = new Set(secretVariables())
  return Object.keys(process.env).filter((k) => k.startsWith('AUTOLYTIQ_SECRET_') && !known.has(k))
}

interface SecretState {
  name: string
  id: string
  exists: boolean
  values: Record<string, unknown>
  /** Required fields that are absent or placeholders. */
  needs: string[]
}

async function inspect(ctx: Context, name: string): Promise<SecretState> {
  const sm = await import('@aws-sdk/client-secrets-manager')
  const client = await ctx.clients.aws.secrets()
  const id = secretId(ctx, name)
  const spec = SECRETS[name]!
  try {
    await client.send(new sm.DescribeSecretCommand({ SecretId: id }))
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { name, id, exists: false, values: {}, needs: spec.required }
    throw err
  }
  let text = ''
  try {
    text = (await client.send(new sm.GetSecretValueCommand({ SecretId: id }))).SecretString ?? ''
  } catch (err) {
    // A secret created without a value yet.
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err
  }
  registerSecret(text)
  let values: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed && typeof parsed === 'object') values = parsed as Record<string, unknown>
  } catch {
    // Not JSON: every field is missing.
  }
  // Hosts, ports and user names stay readable in logs; credentials never are.
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && CREDENTIAL_FIELD.test(k)) registerSecret(v)
  return { name, id, exists: true, values, needs: spec.required.filter((f) => isPlaceholder(values[f])) }
}

async function inspectAll(ctx: Context, names: string[]): Promise<SecretState[]> {
  const unknown = unknownSecretVariables()
  if (unknown.length) throw new UserError(`unknown secret variable(s) ${unknown.join(', ')}; nothing was changed`, `valid: ${secretVariables().join(', ')}`)
  return Promise.all(names.map((n) => inspect(ctx, n)))
}

const describe = (s: SecretState): string => (s.exists ? `${s.id}: ${s.needs.join(', ')} unset or placeholder` : `${s.id} missing`)

/** Asks for one value: the environment variable if set, else a hidden prompt. Never echoed. */
async function valueFor(ctx: Context, s: SecretState, field: string): Promise<string> {
  const variable = envVarFor(s.name, field)
  const value = process.env[variable] ?? (await ctx.prompt.secret(`${s.id} ${field} (or set ${variable})`))
  registerSecret(value)
  if (isPlaceholder(value)) throw new UserError(`the value given for ${s.id} ${field} is empty or a placeholder; nothing was changed`, `set ${variable}`)
  return value
}

/** Plan 3.3-3.5: the eight secrets exist and none holds a placeholder; missing third-party values are filled in. */
export const secretsExpected: Step<z.infer<typeof params>> = {
  id: 'secrets.expected',
  title: 'Secrets Manager secrets present and filled in',
  description:
    "Plan 3.3-3.5: the eight autolytiq/<env>/* secrets exist; placeholder values (REPLACE_ME, the plan's xxxx samples) in smtp, resend and external-apis are replaced from AUTOLYTIQ_SECRET_<SECRET>_<FIELD> or a hidden prompt, never echoed.",
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    return [
      ...p.secrets.map((n) => `secretsmanager DescribeSecret + GetSecretValue ${secretId(ctx, n)} (values never printed)`),
      `secretsmanager PutSecretValue for each provided secret with placeholder fields (values from AUTOLYTIQ_SECRET_<SECRET>_<FIELD> or a hidden prompt)`,
    ]
  },
  async check(ctx, p) {
    const all = await inspectAll(ctx, p.secrets)
    const bad = all.filter((s) => !s.exists || s.needs.length)
    if (bad.length === 0) return { status: 'done', detail: `${all.length} secrets present, none a placeholder`, outputs: { secretIds: all.map((s) => s.id) } }
    return { status: 'todo', detail: listSome(bad.map(describe), 3) }
  },
  async run(ctx, p) {
    const all = await inspectAll(ctx, p.secrets)
    // Terraform owns the secrets themselves and the generated values: creating them here would fight it.
    const broken = all.filter((s) => !s.exists || (SECRETS[s.name]!.source === 'generated' && s.needs.length))
    if (broken.length)
      throw new StepFailedError(
        `${broken.map(describe).join('; ')} (terraform creates these)`,
        `apply the infrastructure: \`autolytiq deploy --env ${ctx.envName} --from terraform.plan\``,
      )
    const todo = all.filter((s) => s.needs.length)
    // Ask for every value before writing any, so a refused prompt changes nothing.
    const updates: { s: SecretState; values: Record<string, unknown> }[] = []
    for (const s of todo) {
      const values = { ...s.values }
      for (const f of s.needs) values[f] = await valueFor(ctx, s, f)
      for (const f of SECRETS[s.name]!.optional ?? []) if (process.env[envVarFor(s.name, f)]) values[f] = await valueFor(ctx, s, f)
      updates.push({ s, values })
    }
    if (updates.length) await requireAccount(ctx)
    const { PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
    const client = await ctx.clients.aws.secrets()
    for (const u of updates) {
      const text = JSON.stringify(u.values)
      registerSecret(text)
      ctx.log(`PutSecretValue ${u.s.id} (${u.s.needs.join(', ')})`)
      await client.send(new PutSecretValueCommand({ SecretId: u.s.id, SecretString: text }))
    }
    return { secretIds: all.map((s) => s.id), filled: updates.flatMap((u) => u.s.needs.map((f) => `${u.s.name}.${f}`)) }
  },
}
