import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { isAwsError, listSome } from './util.js'
import { externalSecretsOf, remoteReads } from '../../k8s/external-secrets.js'
import { buildApp } from '../k8s/manifests.js'

/** What terraform/modules/secrets writes where a person must supply the value. */
export const PLACEHOLDER = 'REPLACE_ME'

interface SecretSpec {
  /** generated: terraform makes the value; provided: a person supplies it (third-party credentials). */
  source: 'generated' | 'provided'
  /** Fields that must hold a real value (not absent, not a placeholder). */
  required: string[]
  /** Fields terraform writes that may stay empty unless a service reads them. */
  optional?: string[]
}

/**
 * Plan 3.5's eight secrets and the JSON fields of each: THE secret contract. `required` plus
 * `optional` is exactly what terraform/modules/secrets writes (test/integration/secret-contract.test.ts
 * applies the module against moto and compares; the sandbox applies the module itself), the tests'
 * seed writes exactly these fields (test/helpers/seed-aws.ts builds its values from this table), and every property an ExternalSecret
 * reads must be one of them (same test; `secrets.expected` checks the live values).
 */
export const SECRETS: Record<string, SecretSpec> = {
  database: { source: 'generated', required: ['engine', 'host', 'port', 'dbname', 'username', 'password'] },
  redis: { source: 'generated', required: ['host', 'port', 'auth_token', 'tls'] },
  jwt: { source: 'generated', required: ['secret'] },
  'pii-encryption': { source: 'generated', required: ['key'] },
  session: { source: 'generated', required: ['secret'] },
  smtp: { source: 'provided', required: ['host', 'port', 'username', 'password', 'from'] },
  resend: { source: 'provided', required: ['api_key'] },
  // No service in services/catalog.yaml takes payments and the plan uses Prometheus, not Datadog:
  // the Stripe and Datadog fields are read by no ExternalSecret, so they are asked for only when
  // given (AUTOLYTIQ_SECRET_EXTERNAL_APIS_*). Sentry is read by every service (autolytiq-secrets).
  'external-apis': { source: 'provided', required: ['sentry_dsn'], optional: ['datadog_api_key', 'stripe_secret_key', 'stripe_webhook_secret'] },
}

/** Every field terraform writes into the secret `name` (and nothing else). */
export const secretFields = (name: string): string[] => [...SECRETS[name]!.required, ...(SECRETS[name]!.optional ?? [])]

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

/** What the rendered ExternalSecrets of this environment read from one secret: field -> reading ExternalSecrets. */
type Reads = Map<string, { fields: Map<string, string[]>; whole: string[] }>

/**
 * The fields the environment's ExternalSecrets (its kustomize overlay, as phase 5 applies it) read
 * from each autolytiq/<env>/<name> secret. A remote key outside this environment's secrets is a
 * configuration error: the services would read another environment's credentials.
 */
export async function externalSecretReads(ctx: Context): Promise<Reads> {
  const reads: Reads = new Map()
  const prefix = `autolytiq/${ctx.envName}/`
  for (const es of externalSecretsOf(await buildApp(ctx))) {
    for (const r of remoteReads(es)) {
      const name = r.remoteKey.startsWith(prefix) ? r.remoteKey.slice(prefix.length) : undefined
      if (!name || !SECRETS[name])
        throw new UserError(
          `ExternalSecret ${es.metadata.name} (overlay ${ctx.env.kustomizeOverlay}) reads ${r.remoteKey}, which is not one of this environment's secrets (${prefix}{${Object.keys(SECRETS).join(',')}})`,
          `fix the remote key in k8s/external-secrets or the overlay's environment label, or kustomizeOverlay for ${ctx.envName} in autolytiq.yaml`,
        )
      const entry = reads.get(name) ?? { fields: new Map<string, string[]>(), whole: [] }
      if (r.wholeSecret || !r.property) entry.whole.push(es.metadata.name)
      else entry.fields.set(r.property, [...(entry.fields.get(r.property) ?? []), es.metadata.name])
      reads.set(name, entry)
    }
  }
  return reads
}

interface SecretState {
  name: string
  id: string
  exists: boolean
  values: Record<string, unknown>
  /** Required fields, and fields an ExternalSecret reads, that are absent or placeholders. */
  needs: string[]
  /** field -> the ExternalSecrets that read it (for messages). */
  readBy: Map<string, string[]>
}

async function inspect(ctx: Context, name: string, reads: Reads): Promise<SecretState> {
  const sm = await import('@aws-sdk/client-secrets-manager')
  const client = await ctx.clients.aws.secrets()
  const id = secretId(ctx, name)
  const spec = SECRETS[name]!
  const read = reads.get(name)
  const readBy = new Map(read?.fields ?? [])
  // dataFrom.extract turns every field into a Secret key: all of them must hold a value
  if (read?.whole.length) for (const f of secretFields(name)) readBy.set(f, [...(readBy.get(f) ?? []), ...read.whole])
  const wanted = [...new Set([...spec.required, ...readBy.keys()])]
  try {
    await client.send(new sm.DescribeSecretCommand({ SecretId: id }))
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { name, id, exists: false, values: {}, needs: wanted, readBy }
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
  return { name, id, exists: true, values, needs: wanted.filter((f) => isPlaceholder(values[f])), readBy }
}

/** A sandbox's configured third-party value (autolytiq.yaml sandboxSecrets) for a field outside the provided secrets would be silently ignored. */
function unknownSandboxSecrets(ctx: Context): string[] {
  return Object.entries(ctx.env.sandboxSecrets ?? {}).flatMap(([name, fields]) =>
    Object.keys(fields)
      .filter((f) => SECRETS[name]?.source !== 'provided' || !secretFields(name).includes(f))
      .map((f) => `${name}.${f}`),
  )
}

async function inspectAll(ctx: Context, names: string[]): Promise<SecretState[]> {
  const unknown = unknownSecretVariables()
  if (unknown.length) throw new UserError(`unknown secret variable(s) ${unknown.join(', ')}; nothing was changed`, `valid: ${secretVariables().join(', ')}`)
  const unknownConfigured = unknownSandboxSecrets(ctx)
  if (unknownConfigured.length)
    throw new UserError(
      `sandboxSecrets of ${ctx.envName} in autolytiq.yaml names ${unknownConfigured.join(', ')}, not a field of a third-party secret; nothing was changed`,
      `valid: ${Object.entries(SECRETS)
        .filter(([, s]) => s.source === 'provided')
        .map(([n]) => `${n}.{${secretFields(n).join(',')}}`)
        .join(', ')}`,
    )
  const reads = await externalSecretReads(ctx)
  return Promise.all(names.map((n) => inspect(ctx, n, reads)))
}

/** 'password (read by ExternalSecret autolytiq-secrets)' */
const field = (s: SecretState, f: string): string => {
  const by = s.readBy.get(f)
  return by?.length ? `${f} (read by ExternalSecret ${[...new Set(by)].join(', ')})` : f
}

const describe = (s: SecretState): string =>
  s.exists ? `${s.id}: ${s.needs.map((f) => field(s, f)).join(', ')} ${s.needs.length > 1 ? 'are' : 'is'} unset or a placeholder` : `${s.id} missing`

/** A field an ExternalSecret reads that the contract (terraform/modules/secrets) never writes: no value given here can fix it. */
const outsideContract = (s: SecretState): string[] => s.needs.filter((f) => !secretFields(s.name).includes(f))

/** Configured sandbox value (autolytiq.yaml sandboxSecrets): the sandbox's stand-in for a third-party credential. */
const configured = (ctx: Context, s: SecretState, field: string): string | undefined => ctx.env.sandboxSecrets?.[s.name]?.[field]

/** Asks for one value: the environment variable if set, else the sandbox's configured value, else a hidden prompt. Never echoed. */
async function valueFor(ctx: Context, s: SecretState, field: string): Promise<string> {
  const variable = envVarFor(s.name, field)
  const value = process.env[variable] ?? configured(ctx, s, field) ?? (await ctx.prompt.secret(`${s.id} ${field} (or set ${variable})`))
  // Credentials are masked wherever they would appear; hosts, ports, user names and senders stay
  // readable, as when read back (secretState). Masking them corrupted the state: the sandbox's SMTP
  // user is named autolytiq-sandbox like its Aurora cluster, and every state save after this step
  // wrote the terraform output rds_cluster_id as "***" (verify: "RDS cluster *** not found").
  if (CREDENTIAL_FIELD.test(field)) registerSecret(value)
  if (isPlaceholder(value)) throw new UserError(`the value given for ${s.id} ${field} is empty or a placeholder; nothing was changed`, `set ${variable}`)
  return value
}

/** Plan 3.3-3.5: the eight secrets exist, none holds a placeholder where it must not, every field an ExternalSecret reads is there; missing third-party values are filled in. */
export const secretsExpected: Step<z.infer<typeof params>> = {
  id: 'secrets.expected',
  title: 'Secrets Manager secrets present and filled in',
  description:
    "Plan 3.3-3.5: the eight autolytiq/<env>/* secrets exist, and every field the environment's ExternalSecrets (its kustomize overlay) read holds a value, before phase 5 applies anything; placeholder values (REPLACE_ME, the plan's xxxx samples) in smtp, resend and external-apis are replaced from AUTOLYTIQ_SECRET_<SECRET>_<FIELD>, a sandbox's sandboxSecrets (autolytiq.yaml) or a hidden prompt, never echoed.",
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    return [
      `kubectl kustomize ${ctx.env.kustomizeOverlay}: the fields its ExternalSecrets read`,
      ...p.secrets.map((n) => `secretsmanager DescribeSecret + GetSecretValue ${secretId(ctx, n)} (values never printed)`),
      `secretsmanager PutSecretValue for each provided secret with placeholder fields (values from AUTOLYTIQ_SECRET_<SECRET>_<FIELD>, sandboxSecrets in autolytiq.yaml or a hidden prompt)`,
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
    const contract = all.filter((s) => s.exists && outsideContract(s).length)
    if (contract.length)
      throw new StepFailedError(
        `${contract
          .map(
            (s) =>
              `${s.id}: ${outsideContract(s)
                .map((f) => field(s, f))
                .join(', ')}`,
          )
          .join('; ')}: terraform/modules/secrets never writes ${contract.length > 1 ? 'these fields' : 'this field'}, so the ExternalSecret can never sync`,
        `make k8s/external-secrets read only fields the secrets module writes (src/steps/aws/secrets.ts SECRETS lists them), then re-run \`autolytiq deploy --env ${ctx.envName} --from secrets.expected\``,
      )
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
      for (const f of SECRETS[s.name]!.optional ?? []) if (process.env[envVarFor(s.name, f)] ?? configured(ctx, s, f)) values[f] = await valueFor(ctx, s, f)
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
