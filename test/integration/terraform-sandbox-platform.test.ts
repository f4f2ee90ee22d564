/**
 * terraform/environments/sandbox-platform: the production platform module (VPC, EKS and node
 * groups, Aurora, KMS, Secrets Manager, IAM/IRSA, backup, observability) applied with the real
 * hashicorp/aws provider against moto, through the CLI's own terraform steps, with what `sandbox
 * up` provides around it: the ElastiCache group on a real port (moto gap), a real PostgreSQL on
 * the Aurora port, the RDS data plane and DNS. Then the database password chain end to end:
 * Terraform writes it write-only into the cluster and autolytiq/<env>/database, the data plane
 * gives the master user that password, and a client that knows only the secret logs in by the
 * cluster endpoint name.
 *
 * Its own moto (MOTO_IAM_LOAD_MANAGED_POLICIES, which the shared harness must not pay for).
 */
import { cpSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { execa } from 'execa'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lookupVia, pgStreamVia } from '../../src/clients/lookup.js'
import { startRdsDataPlane, type RdsDataPlane } from '../../src/sandbox/controllers/rds-data-plane.js'
import { seedRedisGroup } from '../../src/sandbox/seed.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { startMoto, type Moto } from '../harness/moto.js'
import { freePort } from '../harness/ports.js'
import { startPostgres, type TestPostgres } from '../harness/postgres.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { awsProject, type AwsProject } from './aws-project.js'

const REPO = resolve(import.meta.dirname, '..', '..')
const STEPS = ['state-backend', 'terraform.tfvars', 'terraform.init', 'terraform.plan', 'terraform.apply', 'terraform.outputs']
const only = STEPS.flatMap((s) => ['--only', s])
const GROUP = 'autolytiq-sandbox'
const REDIS_TOKEN = 'sandboxRedisToken0123456789abcdef'

interface Report {
  result: string
  steps: { id: string; outcome: string; detail?: string; durationMs?: number }[]
}
const durations = (r: Report): string => r.steps.map((s) => `${s.id} ${((s.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')

let moto: Moto
let postgres: TestPostgres
let dns: TestDnsServer
let p: AwsProject
let dir: string
let rc: string
let redisPort: number
let primaryEndpoint: string

const deploy = async () => {
  const t0 = Date.now()
  const r = await runCli(['deploy', '--env', 'sandbox', ...only, '--yes', '--json'], { ...p.cliEnv, TF_CLI_CONFIG_FILE: rc }, { timeoutMs: 420_000 })
  const seconds = (Date.now() - t0) / 1000
  expect(r.code, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`).toBe(0)
  return { report: JSON.parse(r.stdout) as Report, seconds }
}

describe('the sandbox platform on moto', () => {
  beforeAll(async () => {
    ;[moto, postgres, dns] = await Promise.all([startMoto({ iamManagedPolicies: true }), startPostgres(), startDnsServer()])
    dir = makeTempDir('tf-sandbox-platform')
    // The project's setup writes the CLI configuration (the machine's provider mirror, else the registry).
    rc = join(dir, 'terraformrc')
    await execa('bash', [join(REPO, 'scripts', 'terraform-cli-config.sh')], { env: { TF_CLI_CONFIG_FILE: rc } })
    // A copy: terraform init writes .terraform.lock.hcl next to the configuration.
    cpSync(join(REPO, 'terraform'), join(dir, 'terraform'), { recursive: true })
    // modules/ecr reads the catalog beside terraform/, as in the repository
    cpSync(join(REPO, 'services'), join(dir, 'services'), { recursive: true })
    redisPort = await freePort()
    p = await awsProject({
      endpoint: moto.endpoint,
      environment: { terraformDir: join(dir, 'terraform', 'environments', 'sandbox-platform') },
      // what `sandbox up` writes into runtime.json for terraform.tfvars
      runtime: { terraformVars: { aws_endpoint: moto.endpoint, db_port: postgres.port, redis_port: redisPort } },
    })
    // What `sandbox up` creates because moto cannot serve the module's replication group: its own code.
    primaryEndpoint = (await seedRedisGroup({ aws: p.sdk, envName: 'sandbox', redis: { port: redisPort, password: REDIS_TOKEN } }, () => {})).redisEndpoints[0]!
  }, 120_000)

  afterAll(async () => {
    p?.cleanup()
    await Promise.allSettled([moto?.stop(), postgres?.stop(), dns?.stop()])
    if (dir) removeTempDir(dir)
  })

  it('applies through the CLI, outputs the endpoints the sandbox serves, and plans nothing afterwards', { timeout: 900_000 }, async () => {
    const first = await deploy()
    process.stderr.write(
      `[terraform-sandbox-platform] state-backend..terraform.outputs (init + plan + apply): ${first.seconds.toFixed(1)} s (${durations(first.report)})\n`,
    )
    expect(first.report.steps.find((s) => s.id === 'terraform.apply')?.outcome).toBe('changed')

    const rds = new RDSClient(p.sdk)
    try {
      const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: GROUP }))).DBClusters![0]!
      // The Aurora cluster listens where the sandbox's PostgreSQL does.
      expect(cluster.Port).toBe(postgres.port)
      expect(cluster.DBClusterMembers).toHaveLength(1)
    } finally {
      rds.destroy()
    }

    // Every moto gap is one switch (terraform/environments/sandbox-platform/main.tf): the second
    // plan is empty. When it is not, terraform.plan's detail names each changing address, its action
    // and the attributes that change, e.g. "~ module.platform.module.database.aws_rds_cluster_instance.this[0] (performance_insights_kms_key_id)".
    const second = await deploy()
    process.stderr.write(`[terraform-sandbox-platform] second run: ${second.seconds.toFixed(1)} s (${durations(second.report)})\n`)
    const planStep = second.report.steps.find((s) => s.id === 'terraform.plan')
    expect(planStep?.detail, `the second plan must be empty; terraform.plan said: ${planStep?.detail ?? JSON.stringify(second.report.steps)}`).toBe(
      'no changes',
    )
    expect(planStep?.outcome).toBe('unchanged')
    expect(second.report.steps.map((s) => s.outcome)).not.toContain('changed')
  })

  it('the database password: written by Terraform, applied by the RDS data plane, accepted by the real PostgreSQL', async () => {
    const logs: string[] = []
    let plane: RdsDataPlane | undefined
    const sm = new SecretsManagerClient(p.sdk)
    try {
      const secret = async (name: string) =>
        JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: `autolytiq/sandbox/${name}` }))).SecretString!) as Record<string, string | number>
      const db = await secret('database')
      const redis = await secret('redis')
      expect(redis).toMatchObject({ host: primaryEndpoint, port: redisPort, auth_token: REDIS_TOKEN, tls: true })

      plane = await startRdsDataPlane({ aws: p.sdk, envName: 'sandbox', postgres, dns, log: (m) => logs.push(m) })
      await plane.reconcile()
      expect(plane.address(GROUP), logs.join('\n')).toBeDefined()
      // A client that knows only the secret: the endpoint name through the sandbox DNS.
      const client = new pg.Client({
        host: String(db.host),
        port: Number(db.port),
        user: String(db.username),
        password: String(db.password),
        database: String(db.dbname),
        connectionTimeoutMillis: 5000,
        stream: pgStreamVia(lookupVia([dns.server])),
      })
      await client.connect()
      try {
        const row = (await client.query<{ user: string; db: string }>('SELECT current_user AS user, current_database() AS db')).rows[0]!
        expect(row).toEqual({ user: 'autolytiq_admin', db: 'autolytiq' })
      } finally {
        await client.end()
      }
      // A wrong password is refused: the server checks the one Terraform wrote.
      const wrong = new pg.Client({
        host: String(db.host),
        port: Number(db.port),
        user: String(db.username),
        password: 'not-it',
        database: String(db.dbname),
        stream: pgStreamVia(lookupVia([dns.server])),
      })
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/)
    } finally {
      await plane?.stop()
      sm.destroy()
    }
  })
})
