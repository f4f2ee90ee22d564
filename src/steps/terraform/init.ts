import { createHash } from 'node:crypto'
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { ExternalError, StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { inputsDigest } from './basis.js'
import { backendArgs, backendSettings, commandLine, configDir, dataDir, terraform } from './tf.js'

const params = z.object({}).strict()

const initArgs = (ctx: Context): string[] => ['init', '-input=false', '-no-color', '-reconfigure', ...backendArgs(ctx)]

/** Differences between the backend terraform was initialised with and the one autolytiq.yaml wants. */
function backendDrift(ctx: Context): string[] | undefined {
  const path = join(dataDir(ctx), 'terraform.tfstate')
  if (!existsSync(path)) return undefined
  let saved: { backend?: { type?: string; config?: Record<string, unknown> } }
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as typeof saved
  } catch {
    return ['unreadable backend settings']
  }
  if (saved.backend?.type !== 's3') return [`backend type ${saved.backend?.type}`]
  const cfg = saved.backend.config ?? {}
  const want = backendSettings(ctx)
  const drift = ['bucket', 'key', 'region', 'use_lockfile']
    .filter((k) => String(cfg[k] ?? '') !== want[k])
    .map((k) => `${k} is ${String(cfg[k] ?? 'unset')}, want ${want[k]}`)
  // Terraform 1.11 deprecates the DynamoDB lock: a backend still initialised with it is re-initialised
  if (cfg.dynamodb_table) drift.push(`dynamodb_table is ${String(cfg.dynamodb_table)} (deprecated since Terraform 1.11), want the S3 lock file`)
  // Later commands reuse the saved endpoints: after a sandbox restart (moto on a new port) they would
  // talk to a dead address, so a moved endpoint is drift too.
  const endpoints = (cfg.endpoints ?? {}) as Record<string, unknown>
  const wantEndpoint = ctx.env.awsEndpoint ?? null
  for (const service of ['s3'])
    if ((endpoints[service] ?? null) !== wantEndpoint) drift.push(`${service} endpoint is ${String(endpoints[service] ?? 'AWS')}, want ${wantEndpoint ?? 'AWS'}`)
  return drift
}

/** What terraform init says when it can reach neither a registry nor a mirror for a provider. */
const PROVIDER_INSTALL_FAILED = /Failed to query available provider packages|Failed to install provider|could not connect to registry\./

interface Diagnostic {
  severity: string
  summary: string
  detail?: string
}

/** `terraform validate` is read-only and fails when modules or providers are not installed: the honest "is init complete" probe. */
async function validate(ctx: Context): Promise<{ valid: boolean; problems: string[] }> {
  const r = await terraform(ctx, { args: ['validate', '-json', '-no-color'], okExitCodes: [1], timeoutMs: 120_000 })
  let out: { valid?: boolean; diagnostics?: Diagnostic[] }
  try {
    out = JSON.parse(r.stdout) as typeof out
  } catch {
    return { valid: false, problems: [r.stderr.trim().split('\n').slice(-1)[0] ?? 'terraform validate failed'] }
  }
  const problems = (out.diagnostics ?? []).filter((d) => d.severity === 'error').map((d) => d.summary)
  return { valid: out.valid === true, problems }
}

/**
 * What terraform init installed, or a passing `terraform validate` saw: the plan inputs
 * (configuration, modules, provider lock, tfvars: ./basis.ts) and the providers and modules in
 * TF_DATA_DIR (paths, link targets, sizes, times). Undefined when it cannot be told.
 */
function installedDigest(ctx: Context): string | undefined {
  const inputs = inputsDigest(ctx)
  if (!inputs) return undefined
  const h = createHash('sha256').update(inputs)
  const walk = (d: string): void => {
    if (!existsSync(d)) return
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const l = lstatSync(p)
      if (l.isSymbolicLink()) {
        // an unpacked filesystem mirror is linked, not copied
        const t = existsSync(p) ? statSync(p) : undefined
        h.update(`${p} -> ${readlinkSync(p)} ${t?.size ?? '-'} ${t?.mtimeMs ?? '-'}\n`)
      } else if (l.isDirectory()) walk(p)
      else h.update(`${p} ${l.size} ${l.mtimeMs}\n`)
    }
  }
  walk(join(dataDir(ctx), 'providers'))
  walk(join(dataDir(ctx), 'modules'))
  return h.digest('hex')
}

/** Proof that init is complete for exactly what is installed now: `terraform init` succeeded, or validate passed. */
interface Installed {
  digest: string
  runId: string
  by: 'terraform init' | 'terraform validate'
}

/**
 * Init was proved complete before (in this deploy or an earlier one) and nothing it installed or
 * read changed since. Unlike the plan (./basis.ts), this needs no new proof per deploy: what init
 * depends on is all in the digest, and the plan that follows loads the same providers anyway.
 */
function installedBefore(ctx: Context): Installed | undefined {
  const v = ctx.state.outputs('terraform.init')?.installed as Installed | undefined
  if (!v?.digest || !v.runId) return undefined
  return installedDigest(ctx) === v.digest ? v : undefined
}

const installedNow = (ctx: Context, by: Installed['by']): Installed | null => {
  const digest = installedDigest(ctx)
  return digest ? { digest, runId: ctx.runId, by } : null
}

/** Plan 2.1: `terraform init` against the S3 backend of autolytiq.yaml, in a per-environment data dir. */
export const terraformInit: Step<z.infer<typeof params>> = {
  id: 'terraform.init',
  title: 'Terraform init (S3 backend, modules, providers)',
  description:
    'Plan 2.1: terraform init with the S3 state backend and lock table from autolytiq.yaml, in a per-environment TF_DATA_DIR under .autolytiq/work/<env>/ (the checkout stays clean).',
  danger: 'mutating',
  params,
  timeoutMs: 15 * 60_000,
  async plan(ctx) {
    return [commandLine(ctx, initArgs(ctx))]
  },
  async check(ctx) {
    if (!existsSync(configDir(ctx)))
      throw new UserError(`terraform directory ${configDir(ctx)} does not exist`, 'fix terraformDir in autolytiq.yaml (relative to the project root)')
    const drift = backendDrift(ctx)
    if (drift === undefined) return { status: 'todo', detail: 'not initialised yet' }
    if (drift.length) return { status: 'drift', detail: `backend changed: ${drift.join('; ')}` }
    const backend = `backend s3://${ctx.env.terraformState.bucket}/${ctx.env.terraformState.key}`
    // No provider start (validate loads its whole schema: 5-25 s on two cores) when init was
    // proved complete before and nothing it installed or read changed since.
    const before = installedBefore(ctx)
    if (before) return { status: 'done', detail: `${backend}; ${before.by} succeeded in run ${before.runId}, nothing installed changed since` }
    const v = await validate(ctx)
    if (!v.valid) return { status: 'todo', detail: `terraform validate: ${v.problems.join('; ') || 'not valid'}` }
    return { status: 'done', detail: backend, outputs: { dataDir: dataDir(ctx), installed: installedNow(ctx, 'terraform validate') } }
  },
  async run(ctx) {
    try {
      await terraform(ctx, { args: initArgs(ctx), progress: true })
    } catch (err) {
      // No registry access and no mirror configured: say how the project installs providers.
      if (err instanceof ExternalError && PROVIDER_INSTALL_FAILED.test(err.output ?? err.message))
        throw new StepFailedError(
          `terraform init could not install the providers: ${err.message.split('\n')[0]}`,
          `without access to registry.terraform.io, point terraform at a provider mirror: \`bash scripts/terraform-cli-config.sh\` (set AUTOLYTIQ_TF_PLUGIN_MIRROR=<dir> if it is not found; it writes \${TF_CLI_CONFIG_FILE:-~/.terraformrc}), then \`autolytiq deploy --env ${ctx.envName} --from terraform.init\``,
        )
      throw err
    }
    // No `terraform validate` after it: init succeeding means modules and providers are installed,
    // and terraform.plan, next, validates the configuration anyway (one provider start fewer).
    return { dataDir: dataDir(ctx), installed: installedNow(ctx, 'terraform init') }
  },
}
