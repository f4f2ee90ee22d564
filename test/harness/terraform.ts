import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb'
import { execa } from 'execa'
import { awsConfigFor, awsEnvFor, MOTO_REGION } from './moto.js'
import { makeTempDir, removeTempDir } from './tmp.js'

export const TERRAFORM_FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'terraform')

export interface TerraformBackend {
  bucket: string
  key: string
  dynamodbTable: string
  region: string
  /** moto endpoint the backend talks to */
  endpoint: string
  /** Terraform's state lock: the S3 lock file (use_lockfile, what autolytiq configures) or the deprecated DynamoDB table. */
  lock: 'lockfile' | 'dynamodb'
}

/**
 * Creates what the S3 backend needs, through the real SDK against moto: a versioned bucket (so
 * every apply leaves an S3 version of the state object) and a DynamoDB lock table (LockID key).
 */
export async function createStateBackend(
  motoEndpoint: string,
  opts: { bucket?: string; key?: string; dynamodbTable?: string; lock?: TerraformBackend['lock'] } = {},
): Promise<TerraformBackend> {
  const suffix = Math.random().toString(36).slice(2, 8)
  const backend: TerraformBackend = {
    bucket: opts.bucket ?? `autolytiq-tfstate-${suffix}`,
    key: opts.key ?? 'sandbox/terraform.tfstate',
    dynamodbTable: opts.dynamodbTable ?? `autolytiq-tflock-${suffix}`,
    region: MOTO_REGION,
    endpoint: motoEndpoint,
    lock: opts.lock ?? 'dynamodb',
  }
  const cfg = awsConfigFor(motoEndpoint)
  const s3 = new S3Client(cfg)
  const ddb = new DynamoDBClient(cfg)
  try {
    await s3.send(new CreateBucketCommand({ Bucket: backend.bucket }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: backend.bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    await ddb.send(
      new CreateTableCommand({
        TableName: backend.dynamodbTable,
        AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: backend.dynamodbTable })
  } finally {
    s3.destroy()
    ddb.destroy()
  }
  return backend
}

/** The -backend-config flags of TESTING.md, pointing every endpoint the backend uses at moto. */
export function backendConfigArgs(b: TerraformBackend): string[] {
  const e = b.endpoint
  return [
    `-backend-config=bucket=${b.bucket}`,
    `-backend-config=key=${b.key}`,
    `-backend-config=region=${b.region}`,
    ...(b.lock === 'lockfile'
      ? ['-backend-config=use_lockfile=true', `-backend-config=endpoints={s3="${e}",sts="${e}"}`]
      : [`-backend-config=dynamodb_table=${b.dynamodbTable}`, `-backend-config=endpoints={s3="${e}",dynamodb="${e}",sts="${e}"}`]),
    '-backend-config=use_path_style=true',
    '-backend-config=skip_credentials_validation=true',
    '-backend-config=skip_requesting_account_id=true',
  ]
}

export interface TerraformOutput {
  value: unknown
  type: unknown
  sensitive: boolean
}

export interface TerraformResult {
  stdout: string
  stderr: string
}

export interface TerraformWorkspace {
  /** Working copy of the configuration (a temp dir; the fixture in the repo stays untouched). */
  dir: string
  /** Per-workspace TF_DATA_DIR. */
  dataDir: string
  /** Env every terraform call gets (also what a CLI child process would need). */
  env: Record<string, string>
  init(): Promise<TerraformResult>
  /** `plan -out`; returns the plan file path. */
  plan(vars?: Record<string, string>): Promise<string>
  apply(planFile: string): Promise<TerraformResult>
  output(): Promise<Record<string, TerraformOutput>>
  /** Any other terraform command, e.g. ['state', 'list']. */
  run(args: string[]): Promise<TerraformResult>
  cleanup(): Promise<void>
}

/** The terraform binary (TESTING.md: OpenTofu's `tofu` is accepted when terraform is absent). */
export function terraformBinary(): string {
  return process.env.AUTOLYTIQ_TERRAFORM_BIN ?? 'terraform'
}

export async function createTerraformWorkspace(opts: {
  backend: TerraformBackend
  /** Configuration to copy; defaults to the harness fixture. */
  configDir?: string
}): Promise<TerraformWorkspace> {
  const root = makeTempDir('terraform')
  const dir = join(root, 'config')
  const dataDir = join(root, 'tf-data')
  cpSync(opts.configDir ?? TERRAFORM_FIXTURE_DIR, dir, { recursive: true })
  mkdirSync(dataDir)
  // The machine may point TF_CLI_CONFIG_FILE at a missing file (a warning on every command);
  // an empty CLI config of our own keeps output clean and independent of ~/.terraformrc.
  const cliConfig = join(root, 'terraformrc')
  writeFileSync(cliConfig, '')
  const env: Record<string, string> = {
    ...awsEnvFor(opts.backend.endpoint),
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_DATA_DIR: dataDir,
    TF_CLI_CONFIG_FILE: cliConfig,
    // no network to checkpoint.hashicorp.com: skip the version check instead of timing out
    CHECKPOINT_DISABLE: '1',
  }
  const run = async (args: string[]): Promise<TerraformResult> => {
    const r = await execa(terraformBinary(), ['-chdir=' + dir, ...args], {
      env,
      reject: false,
      timeout: 120_000,
    })
    if (r.exitCode !== 0) {
      throw new Error(`terraform ${args[0]} failed (exit ${r.exitCode}):\n${r.stderr || r.stdout}`)
    }
    return { stdout: r.stdout, stderr: r.stderr }
  }
  let planNo = 0
  return {
    dir,
    dataDir,
    env,
    run,
    init: () => run(['init', '-input=false', '-no-color', ...backendConfigArgs(opts.backend)]),
    async plan(vars = {}) {
      const planFile = join(root, `plan-${++planNo}.tfplan`)
      const varArgs = Object.entries(vars).map(([k, v]) => `-var=${k}=${v}`)
      await run(['plan', '-input=false', '-no-color', `-out=${planFile}`, ...varArgs])
      return planFile
    },
    apply: (planFile) => run(['apply', '-input=false', '-no-color', '-auto-approve', planFile]),
    async output() {
      const r = await run(['output', '-json'])
      return JSON.parse(r.stdout) as Record<string, TerraformOutput>
    },
    async cleanup() {
      removeTempDir(root)
    },
  }
}
