/**
 * Shared by the aws-* and terraform-* integration tests: a throw-away project whose environment
 * lives in its own moto account (STS AssumeRole into a random account: moto keeps every account's
 * resources apart), so tests share one moto server without resetting it under each other.
 * S3 bucket names are global in moto as in AWS, hence the random suffixes.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { REPO } from '../helpers/cli.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'
import { buildContext } from '../../src/engine/context.js'
import { loadRunbook, selectSteps } from '../../src/engine/runbook.js'
import { runRunbook, type RunReport } from '../../src/engine/runner.js'
import { stepRegistry } from '../../src/steps/index.js'
import type { AwsCall } from '../../src/clients/aws.js'
import type { Context } from '../../src/engine/types.js'

/** test/fixtures/terraform-outputs: the sandbox's variables and outputs over terraform_data only. */
export const TERRAFORM_OUTPUTS_FIXTURE = join(REPO, 'test', 'fixtures', 'terraform-outputs')

export interface MotoAccount {
  accountId: string
  accessKeyId: string
  secretAccessKey: string
}

export interface SdkConfig {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  forcePathStyle: boolean
}

export async function freshAccount(endpoint: string): Promise<MotoAccount> {
  const accountId = String(100_000_000_000 + Math.floor(Math.random() * 899_999_999_999))
  const sts = new STSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  try {
    const r = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/autolytiq-test`, RoleSessionName: 'autolytiq-test' }))
    return { accountId, accessKeyId: r.Credentials!.AccessKeyId!, secretAccessKey: r.Credentials!.SecretAccessKey! }
  } finally {
    sts.destroy()
  }
}

export const sdkConfig = (endpoint: string, a: MotoAccount): SdkConfig => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
  forcePathStyle: true,
})

export const suffix = (): string => Math.random().toString(36).slice(2, 8)

export interface AwsProject extends TempProject {
  envName: string
  account: MotoAccount
  sdk: SdkConfig
  /** Everything a CLI child process needs: project root, home, moto credentials. */
  cliEnv: Record<string, string>
  stateBucket: string
  lockTable: string
  domain: string
  apiDomain: string
}

/**
 * A sandbox-style environment (endpoints from <home>/sandbox/runtime.json, as `sandbox up` writes
 * them) in a fresh moto account, with unique state bucket and lock table names.
 */
export async function awsProject(opts: {
  endpoint: string
  envName?: string
  environment?: Record<string, unknown>
  runtime?: Record<string, unknown>
  runbooks?: Record<string, unknown>
  account?: MotoAccount
}): Promise<AwsProject> {
  const envName = opts.envName ?? 'sandbox'
  const account = opts.account ?? (await freshAccount(opts.endpoint))
  const s = suffix()
  const stateBucket = `autolytiq-test-tfstate-${s}`
  const lockTable = `autolytiq-test-tflock-${s}`
  const domain = `${s}.autolytiq.test`
  const apiDomain = `api.${domain}`
  const p = tempProject({
    environments: {
      [envName]: localEnvironment({
        description: 'aws integration test',
        sandbox: true,
        accountId: account.accountId,
        domain,
        apiDomain,
        eksCluster: `autolytiq-${envName}`,
        namespace: `autolytiq-${envName}`,
        // the terraform steps' mechanics without the platform apply (the sandbox applies terraform/environments/sandbox-platform)
        terraformDir: TERRAFORM_OUTPUTS_FIXTURE,
        terraformState: { bucket: stateBucket, lockTable },
        ...opts.environment,
      }),
    },
    runbooks: opts.runbooks,
  })
  // secrets.expected reads the overlay's ExternalSecrets (kubectl kustomize) to know which fields are needed
  cpSync(join(REPO, 'k8s'), join(p.root, 'k8s'), { recursive: true })
  mkdirSync(join(p.home, 'sandbox'), { recursive: true })
  writeFileSync(join(p.home, 'sandbox', 'runtime.json'), JSON.stringify({ awsEndpoint: opts.endpoint, ...opts.runtime }))
  // The machine may point TF_CLI_CONFIG_FILE at a missing file; an empty one keeps terraform quiet.
  const tfrc = join(p.root, 'terraformrc')
  writeFileSync(tfrc, '')
  const cliEnv = {
    ...p.env,
    AWS_ACCESS_KEY_ID: account.accessKeyId,
    AWS_SECRET_ACCESS_KEY: account.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    TF_CLI_CONFIG_FILE: tfrc,
  }
  return { ...p, envName, account, sdk: sdkConfig(opts.endpoint, account), cliEnv, stateBucket, lockTable, domain, apiDomain }
}

export interface InProcessRun {
  report: RunReport
  calls: AwsCall[]
  mutating: AwsCall[]
  ctx: Context
}

/**
 * Runs steps of the project's go-live runbook in this process, as `deploy --only … --yes --json`
 * would, with fresh AWS clients so `calls` holds exactly this run's AWS calls (recorded by the
 * clients' SDK middleware).
 */
export async function runInProcess(p: AwsProject, only: string[], opts: { dryRun?: boolean } = {}): Promise<InProcessRun> {
  Object.assign(process.env, p.cliEnv)
  const { ctx, lock } = await buildContext({ env: p.envName, yes: true, dryRun: opts.dryRun })
  const runbook = loadRunbook(ctx.root, 'go-live', stepRegistry())
  const report = await runRunbook(ctx, { command: 'test', runbook, steps: selectSteps(runbook, { only }), lock, json: true })
  return { report, calls: [...ctx.clients.aws.calls], mutating: ctx.clients.aws.mutatingCalls, ctx }
}

/** One step's outcome from a report: 'changed' | 'unchanged' | 'failed' | 'skipped' … */
export const outcome = (r: RunReport, id: string): string | undefined => r.steps.find((s) => s.id === id)?.outcome

export const describeCalls = (calls: AwsCall[]): string[] => calls.map((c) => `${c.service}.${c.operation}`)

/**
 * The database as Terraform and AWS Backup leave it: an Aurora PostgreSQL 15 Serverless v2
 * cluster with its writer, one snapshot, and the database secret pointing at the cluster.
 */
export async function seedAurora(
  sdk: Omit<SdkConfig, 'forcePathStyle'>,
  o: { cluster: string; snapshot: string; secretId: string; password: string },
): Promise<{ endpoint: string }> {
  const rds = new RDSClient(sdk)
  const sm = new SecretsManagerClient(sdk)
  try {
    const created = await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: o.cluster,
        Engine: 'aurora-postgresql',
        EngineVersion: '15.4',
        MasterUsername: 'autolytiq',
        MasterUserPassword: o.password,
        DatabaseName: 'autolytiq',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      }),
    )
    const endpoint = created.DBCluster!.Endpoint!
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: `${o.cluster}-1`,
        DBClusterIdentifier: o.cluster,
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.serverless',
      }),
    )
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: o.cluster, DBClusterSnapshotIdentifier: o.snapshot }))
    // the fields terraform/modules/secrets writes (the secret contract): no url, the ExternalSecret composes it
    const secret = { engine: 'postgres', host: endpoint, port: 5432, dbname: 'autolytiq', username: 'autolytiq', password: o.password }
    await sm.send(new CreateSecretCommand({ Name: o.secretId, SecretString: JSON.stringify(secret) }))
    return { endpoint }
  } finally {
    rds.destroy()
    sm.destroy()
  }
}
