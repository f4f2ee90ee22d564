/**
 * verify's data-store checks with real servers: PostgreSQL (SELECT 1 with the DATABASE_URL from
 * the cluster's Secret), Redis over TLS with AUTH, and the RDS cluster in moto.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { CreateDBClusterCommand, RDSClient } from '@aws-sdk/client-rds'
import { awsConfigFor } from '../harness/moto.js'
import { startPostgres, type TestPostgres } from '../harness/postgres.js'
import { runChecks, type CheckReport } from '../../src/checks/run.js'
import { AppSecret } from '../../src/checks/secrets.js'
import { rdsBackupsCheck, rdsClusterCheck, selectOneCheck } from '../../src/checks/database.js'
import { redisPingCheck } from '../../src/checks/redis.js'
import type { Check, Context } from '../../src/engine/types.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const aws = inject('aws')
const postgres = inject('postgres')
const redis = inject('redis')
const suffix = randomBytes(3).toString('hex')
const ns = { ok: `verify-db-ok-${suffix}`, bad: `verify-db-bad-${suffix}`, empty: `verify-db-none-${suffix}` }
const cluster = `autolytiq-verify-${suffix}`

let core: CoreV1Api
let downPostgres: TestPostgres | undefined
const contexts: TestContext[] = []

async function ctxIn(namespace: string): Promise<Context> {
  const t = await testContext({ env: { namespace, kubeconfig: kube?.kubeconfigPath, caFile: redis?.caPath, awsEndpoint: aws?.endpoint } })
  t.ctx.state.setOutputs('terraform.outputs', { rds_cluster_id: cluster })
  contexts.push(t)
  return t.ctx
}

async function run(ctx: Context, checks: Check[]): Promise<CheckReport[]> {
  return runChecks(ctx, checks)
}

const secret = (namespace: string, data: Record<string, string>) =>
  core.createNamespacedSecret({ namespace, body: { metadata: { name: 'autolytiq-secrets' }, stringData: data } })

beforeAll(async () => {
  if (!kube || !postgres || !redis) return
  const kc = new KubeConfig()
  kc.loadFromFile(kube.kubeconfigPath)
  core = kc.makeApiClient(CoreV1Api)
  for (const n of Object.values(ns)) await core.createNamespace({ body: { metadata: { name: n } } })
  // A second PostgreSQL of our own, stopped: "the database is down" without disturbing other tests.
  downPostgres = await startPostgres()
  await downPostgres.stopServer()
  const wrongRedis = new URL(redis.url)
  wrongRedis.password = 'not-the-password-' + suffix
  await secret(ns.ok, { DATABASE_URL: postgres.url, REDIS_URL: redis.url })
  await secret(ns.bad, { DATABASE_URL: downPostgres.url, REDIS_URL: wrongRedis.toString() })
}, 120_000)

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  if (core) for (const n of Object.values(ns)) await core.deleteNamespace({ name: n }).catch(() => {})
  await downPostgres?.stop()
})

describe.skipIf(!kube || !postgres || !redis)('database and Redis through the synced Secret', () => {
  it('pass: SELECT 1 and PING over TLS with AUTH', async () => {
    const ctx = await ctxIn(ns.ok)
    const s = new AppSecret(ctx)
    const [db, rd] = await run(ctx, [selectOneCheck(s, 5000), redisPingCheck(s, 5000)])
    expect(db).toMatchObject({ status: 'pass', layer: 'database' })
    expect(db!.detail).toMatch(new RegExp(`^SELECT 1 on 127\\.0\\.0\\.1:${postgres!.port}/autolytiq in \\d+ ms$`))
    expect(rd).toMatchObject({ status: 'pass', layer: 'redis' })
    expect(rd!.detail).toMatch(new RegExp(`^PONG from 127\\.0\\.0\\.1:${redis!.port} in \\d+ ms \\(TLS, AUTH\\)$`))
  })

  it('fail: PostgreSQL down, Redis with a wrong password — and no secret in the output', async () => {
    const ctx = await ctxIn(ns.bad)
    const s = new AppSecret(ctx)
    const [db, rd] = await run(ctx, [selectOneCheck(s, 5000), redisPingCheck(s, 5000)])
    expect(db).toMatchObject({
      status: 'fail',
      detail: `PostgreSQL at 127.0.0.1:${downPostgres!.port}/autolytiq refused the connection: the server is down or not listening`,
    })
    expect(rd).toMatchObject({
      status: 'fail',
      detail: `Redis at 127.0.0.1:${redis!.port} rejected the password in REDIS_URL (WRONGPASS): the synced secret is out of date or AUTH was rotated`,
    })
    const text = JSON.stringify([db, rd])
    expect(text).not.toContain(downPostgres!.password)
    expect(text).not.toContain(`not-the-password-${suffix}`)
  })

  it('fail when External Secrets never synced the Secret', async () => {
    const ctx = await ctxIn(ns.empty)
    const s = new AppSecret(ctx)
    const [db, rd] = await run(ctx, [selectOneCheck(s, 5000), redisPingCheck(s, 5000)])
    const why = `Secret autolytiq-secrets not found in namespace ${ns.empty}: External Secrets has not synced it (kubectl get externalsecrets -n ${ns.empty})`
    expect(db).toMatchObject({ status: 'fail', detail: why })
    expect(rd).toMatchObject({ status: 'fail', detail: why })
  })
})

describe.skipIf(!aws)('RDS cluster in moto', () => {
  it('fails while the cluster does not exist, passes once it is available', async () => {
    const ctx = await ctxIn(ns.ok)
    const [missing] = await run(ctx, [rdsClusterCheck(10_000)])
    expect(missing).toMatchObject({ status: 'fail', detail: `RDS cluster ${cluster} not found in us-east-1` })

    const rds = new RDSClient(awsConfigFor(aws!.endpoint))
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: cluster,
        Engine: 'aurora-postgresql',
        EngineVersion: '15.4',
        MasterUsername: 'autolytiq',
        MasterUserPassword: 'password-' + suffix,
        BackupRetentionPeriod: 35,
      }),
    )
    const [up, backups] = await run(ctx, [rdsClusterCheck(10_000), rdsBackupsCheck(10_000)])
    expect(up).toMatchObject({ status: 'pass', detail: `${cluster} is available (aurora-postgresql 15.4, 0 instance(s))` })
    expect(backups!.status).toBe('pass')
    expect(backups!.detail).toMatch(new RegExp(`^${cluster} keeps backups 35 days`))
    // Read-only: the checks made no mutating AWS call.
    expect(ctx.clients.aws.mutatingCalls).toEqual([])
  })
})
