import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { which, type ExecResult } from '../../clients/exec.js'
import { workDir } from '../../engine/context.js'
import { UserError } from '../../engine/errors.js'
import type { Context } from '../../engine/types.js'
import { tfvarsPath } from './tfvars.js'

/** The environment's Terraform configuration (autolytiq.yaml terraformDir), relative to the project root. */
export function configDir(ctx: Context): string {
  return resolve(ctx.root, ctx.env.terraformDir)
}

/** TF_DATA_DIR per environment, outside the repository: the checkout stays clean and environments never share a backend. */
export function dataDir(ctx: Context): string {
  return join(workDir(ctx.root, ctx.envName), 'terraform')
}

export function planFile(ctx: Context): string {
  return join(workDir(ctx.root, ctx.envName), 'terraform.tfplan')
}

/** terraform, else OpenTofu's tofu (TESTING.md); a missing binary fails in exec() with the install hint. */
export async function terraformBinary(): Promise<string> {
  return (await which('terraform')) ? 'terraform' : (await which('tofu')) ? 'tofu' : 'terraform'
}

export function terraformEnv(ctx: Context): Record<string, string> {
  const env: Record<string, string> = {
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_DATA_DIR: dataDir(ctx),
    // No network to checkpoint.hashicorp.com on locked-down machines: skip the version check.
    CHECKPOINT_DISABLE: '1',
  }
  if (ctx.env.awsProfile) env.AWS_PROFILE = ctx.env.awsProfile
  if (ctx.env.awsEndpoint) {
    // Sandbox: the same static credentials the CLI's own AWS clients use against moto.
    env.AWS_ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID ?? 'testing'
    env.AWS_SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY ?? 'testing'
    env.AWS_REGION = ctx.env.region
    env.AWS_EC2_METADATA_DISABLED = 'true'
  }
  return env
}

/**
 * The S3 backend settings from autolytiq.yaml; in the sandbox also moto's endpoints (TESTING.md).
 * The state lock is S3's own lock file (use_lockfile: `<key>.tflock`, a conditional write):
 * Terraform 1.11 deprecates dynamodb_table, and without it no MD5 digest item is kept either.
 */
export function backendSettings(ctx: Context): Record<string, string> {
  const ts = ctx.env.terraformState
  const s: Record<string, string> = { bucket: ts.bucket, key: ts.key, region: ctx.env.region, use_lockfile: 'true' }
  if (ctx.env.awsProfile) s.profile = ctx.env.awsProfile
  if (ctx.env.awsEndpoint) {
    const e = ctx.env.awsEndpoint
    s.endpoints = `{s3="${e}",sts="${e}"}`
    s.use_path_style = 'true'
    s.skip_credentials_validation = 'true'
    s.skip_requesting_account_id = 'true'
  }
  return s
}

export function backendArgs(ctx: Context): string[] {
  return Object.entries(backendSettings(ctx)).map(([k, v]) => `-backend-config=${k}=${v}`)
}

export interface TfRun {
  args: string[]
  okExitCodes?: number[]
  timeoutMs?: number
  /** Stream lines as progress (apply); off for commands whose stdout is JSON. */
  progress?: boolean
  /** Every output line, besides progress. */
  onLine?: (line: string) => void
  onSpawn?: (pid: number) => void
}

/** Runs terraform through the one subprocess wrapper, in the environment's directory and data dir. */
export async function terraform(ctx: Context, run: TfRun): Promise<ExecResult> {
  const bin = await terraformBinary()
  return ctx.clients.exec(bin, [`-chdir=${configDir(ctx)}`, ...run.args], {
    env: terraformEnv(ctx),
    signal: ctx.signal,
    timeoutMs: run.timeoutMs ?? 10 * 60_000,
    okExitCodes: run.okExitCodes,
    onLine:
      run.progress || run.onLine
        ? (l) => {
            if (run.progress) ctx.log(l)
            run.onLine?.(l)
          }
        : undefined,
    onSpawn: run.onSpawn,
  })
}

/** `terraform …` as an engineer would type it, for --dry-run. */
export function commandLine(ctx: Context, args: string[]): string {
  return `TF_DATA_DIR=${dataDir(ctx)} terraform -chdir=${configDir(ctx)} ${args.join(' ')}`
}

export function requireTfvars(ctx: Context): string {
  const path = tfvarsPath(ctx)
  if (!existsSync(path))
    throw new UserError(`${path} does not exist yet`, `run the terraform.tfvars step first: \`autolytiq deploy --env ${ctx.envName} --from terraform.tfvars\``)
  return path
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}
