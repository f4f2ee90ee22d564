/**
 * `autolytiq rollback database` (runbooks/rollback-database.yaml) end to end: RDS and Secrets
 * Manager in moto, Deployments / Secret / ExternalSecret on the real control plane, and the real
 * External Secrets Operator composing DATABASE_URL from the database secret's fields (the
 * project's template). This test runs its own operator process (controller class of its own
 * store) so it can take the operator away while a rollback waits for it, as an outage would.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CustomObjectsApi, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node'
import { parse } from 'yaml'
import { BIN, REPO, runCli } from '../helpers/cli.js'
import { startEso, type RunningEso } from '../harness/external-secrets.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { watchUntil } from '../harness/kube-wait.js'
import { seedAurora } from './aws-project.js'
import { deploymentManifest, image, json, rollbackProject, rolledOut, type RollbackProject } from './rollback-project.js'

const kube = inject('kube')
const aws = inject('aws')
const suffix = randomBytes(3).toString('hex')
const ENV = `rbdb-${suffix}`
const ns = `rb-db-${suffix}`
const CLUSTER = `autolytiq-${ENV}`
const SNAPSHOT = `${CLUSTER}-before-incident`
const SECRET_ID = `autolytiq/${ENV}/database`
// generated-looking, with characters a URL must encode (the template encodes them)
const PASSWORD = `pw@:/?#%+ ${randomBytes(12).toString('hex')}`
/** This test's ClusterSecretStore and its operator's controller class. */
const STORE = `rbdb-${suffix}`
/** Database clients at deliberately uneven counts (not the catalog minimums), plus the gateway, which does not use the database. */
const REPLICAS: Record<string, number> = { 'deal-service': 3, 'auth-service': 2, 'customer-service': 1, 'config-service': 2 }
const GATEWAY_REPLICAS = 2

let p: RollbackProject
let rds: RDSClient
let sm: SecretsManagerClient
let oldEndpoint: string
const logs = makeTempDir('rbdb-eso')
let operator: { respond: boolean; syncs: number; stop(): void; settled(): Promise<unknown> }

interface Report {
  result: string
  changed: number
  exitCode: number
  runId: string
  steps: { id: string; outcome: string; detail?: string }[]
}

const cli = (...args: string[]) => runCli(['rollback', 'database', '--env', ENV, ...args], p.env, { timeoutMs: 170_000 })

async function secretValues(): Promise<Record<string, string>> {
  return JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: SECRET_ID }))).SecretString!) as Record<string, string>
}

async function clusterEndpoint(id: string): Promise<string | undefined> {
  try {
    return (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0]?.Endpoint
  } catch {
    return undefined
  }
}

async function restoredClusters(): Promise<string[]> {
  const all = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? []
  return all.map((c) => c.DBClusterIdentifier!).filter((id) => id.startsWith(`${CLUSTER}-restored-`))
}

/** The project's DATABASE_URL template (k8s/external-secrets/external-secret.yaml), composed by the operator from the secret's fields. */
function databaseUrlTemplate(): string {
  const es = parse(readFileSync(join(REPO, 'k8s', 'external-secrets', 'external-secret.yaml'), 'utf8')) as {
    spec: { target: { template: { data: Record<string, string> } }; data: { secretKey: string; remoteRef: { property: string } }[] }
  }
  return es.spec.target.template.data.DATABASE_URL!
}

/** The real operator for this test's store; `respond = false` stops it (the rollback then waits), true starts it again. */
async function startOperator(logDir: string): Promise<typeof operator> {
  let running: RunningEso | undefined = await startEso({
    kubeconfigPath: kube!.kubeconfigPath,
    awsEndpoint: aws!.endpoint,
    region: aws!.region,
    logDir,
    controllerClass: STORE,
  })
  const state = {
    syncs: 0,
    get respond() {
      return running !== undefined
    },
    set respond(on: boolean) {
      pending = pending.then(async () => {
        if (on && !running)
          running = await startEso({ kubeconfigPath: kube!.kubeconfigPath, awsEndpoint: aws!.endpoint, region: aws!.region, logDir, controllerClass: STORE })
        if (!on && running) await running.stop().then(() => (running = undefined))
      })
    },
    stop: () => void pending.then(() => running?.stop()),
    settled: () => pending,
  }
  let pending: Promise<unknown> = Promise.resolve()
  return state
}

function replicasOf(d: V1Deployment | undefined): number | undefined {
  return d?.spec?.replicas
}

describe.skipIf(!kube || !aws)('rollback database: the whole runbook on moto RDS and the real control plane', () => {
  beforeAll(async () => {
    p = rollbackProject({ kube: kube!, aws: aws!, envName: ENV, namespace: ns })
    const cfg = { endpoint: aws!.endpoint, region: aws!.region, credentials: { accessKeyId: aws!.accessKeyId, secretAccessKey: aws!.secretAccessKey } }
    rds = new RDSClient(cfg)
    sm = new SecretsManagerClient(cfg)

    // The database as Terraform leaves it: an Aurora PostgreSQL Serverless v2 cluster, its writer, a snapshot, its secret.
    oldEndpoint = (await seedAurora(cfg, { cluster: CLUSTER, snapshot: SNAPSHOT, secretId: SECRET_ID, password: PASSWORD })).endpoint

    // Kubernetes: the upstream CRDs (the harness's chart), a store of this test's own controller class
    // (IRSA through the chart's service account), the ExternalSecret with the project's URL template.
    await p.core.createNamespace({ body: { metadata: { name: ns } } })
    const custom = p.kc.makeApiClient(CustomObjectsApi)
    await custom.createClusterCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      plural: 'clustersecretstores',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ClusterSecretStore',
        metadata: { name: STORE },
        spec: {
          controller: STORE,
          provider: {
            aws: {
              service: 'SecretsManager',
              region: aws!.region,
              auth: { jwt: { serviceAccountRef: { name: 'external-secrets', namespace: 'external-secrets' } } },
            },
          },
        },
      },
    })
    await custom.createNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace: ns,
      plural: 'externalsecrets',
      body: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'autolytiq-secrets' },
        spec: {
          refreshInterval: '1h',
          secretStoreRef: { name: STORE, kind: 'ClusterSecretStore' },
          target: { name: 'autolytiq-secrets', creationPolicy: 'Owner', template: { engineVersion: 'v2', data: { DATABASE_URL: databaseUrlTemplate() } } },
          data: (['host', 'port', 'dbname', 'username', 'password'] as const).map((f) => ({
            secretKey: { host: 'db_host', port: 'db_port', dbname: 'db_name', username: 'db_username', password: 'db_password' }[f],
            remoteRef: { key: SECRET_ID, property: f },
          })),
        },
      },
    })
    operator = await startOperator(logs)
    await watchUntil(p.kc, `/api/v1/namespaces/${ns}/secrets`, (s: KubernetesObject) => s.metadata?.name === 'autolytiq-secrets', {
      timeoutMs: 60_000,
      what: 'the operator writing Secret autolytiq-secrets',
    })
    for (const [name, replicas] of Object.entries(REPLICAS))
      await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest(name, image(name, 'v1'), replicas) })
    await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest('api-gateway', image('api-gateway', 'v1'), GATEWAY_REPLICAS) })
    await p.batch.createNamespacedCronJob({
      namespace: ns,
      body: {
        metadata: { name: 'data-retention-service' },
        spec: {
          schedule: '0 3 * * *',
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: 'Never', containers: [{ name: 'data-retention-service', image: image('data-retention-service', 'v1') }] } },
            },
          },
        },
      },
    })
    await Promise.all([...Object.keys(REPLICAS), 'api-gateway'].map((n) => rolledOut(p, n)))
  }, 180_000)

  afterAll(async () => {
    operator?.stop()
    await operator?.settled()
    await p?.kc
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'clustersecretstores', name: STORE })
      .catch(() => {})
    removeTempDir(logs)
    rds?.destroy()
    sm?.destroy()
    await p?.core.deleteNamespace({ name: ns }).catch(() => {})
    p?.cleanup()
  })

  it('--dry-run lists the snapshots and the exact calls, and changes nothing; unknown snapshot: exit 2 with the list', async () => {
    const r = await cli('--latest', '--dry-run')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`restore snapshot ${SNAPSHOT}`)
    expect(r.stdout).toContain('RestoreDBClusterFromSnapshot')
    expect(r.stdout).toMatch(/deployments\/deal-service\/scale \{spec:\{replicas:0\}\}/)
    expect(await restoredClusters()).toEqual([])
    expect((await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })).spec?.replicas).toBe(3)

    const unknown = await cli('--snapshot', 'no-such-snapshot', '--yes')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no cluster snapshot no-such-snapshot')
    expect(unknown.stderr).toContain(SNAPSHOT)
  })

  it('restores, repoints the secret and restores the exact replica counts — also after a SIGKILL in the middle', async () => {
    const gatewayGeneration = (await p.apps.readNamespacedDeployment({ name: 'api-gateway', namespace: ns })).metadata?.generation

    // First attempt: the operator is down, so the run waits in the refresh step; kill it there.
    operator.respond = false
    await operator.settled()
    const child = spawn(process.execPath, [BIN, 'rollback', 'database', '--env', ENV, '--snapshot', SNAPSHOT, '--yes'], {
      env: { ...process.env, CI: 'true', NO_COLOR: '1', ...p.env },
      stdio: 'ignore',
    })
    await watchUntil(p.kc, `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, (es) => Boolean(es.metadata?.annotations?.['force-sync']), {
      timeoutMs: 150_000,
      what: 'the force-sync annotation (the run reached the refresh step)',
    })
    // Mid-rollback, as the kill finds it: services at zero, the restored cluster up, the secret already moved.
    const restored = JSON.parse(readFileSync(join(p.home, 'state', `${ENV}.json`), 'utf8')).outputs['rollback.db.snapshot'].restoredCluster as string
    expect(restored).toMatch(new RegExp(`^${CLUSTER}-restored-[0-9a-f]{8}$`))
    const newEndpoint = (await clusterEndpoint(restored))!
    expect(newEndpoint).toBeTruthy()
    for (const name of Object.keys(REPLICAS)) expect(replicasOf(await p.apps.readNamespacedDeployment({ name, namespace: ns })), name).toBe(0)
    expect((await secretValues()).host).toBe(newEndpoint)
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))

    // Another snapshot while this one is half done: refused, nothing changed.
    const conflicting = await cli('--snapshot', `rds:${CLUSTER}-other`, '--yes')
    expect(conflicting.code).toBe(2)
    expect(conflicting.stderr).toContain(`a database rollback to snapshot ${SNAPSHOT} is in progress`)

    // The dead run's lock is taken over explicitly, then the same command resumes and completes.
    expect((await runCli(['state', 'unlock', '--env', ENV], p.env)).code).toBe(0)
    operator.respond = true
    await operator.settled()
    const r = await cli('--snapshot', SNAPSHOT, '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const report = json<Report>(r.stdout)
    expect(report.result).toBe('succeeded')
    const outcome = Object.fromEntries(report.steps.map((s) => [s.id, s.outcome]))
    expect(outcome).toMatchObject({
      'rollback.db.snapshot': 'unchanged',
      'rollback.db.confirm': 'unchanged',
      'rollback.db.record-replicas': 'unchanged',
      'rollback.db.scale-down': 'unchanged',
      'rollback.db.restore': 'unchanged',
      'rollback.db.update-secret': 'unchanged',
      // the killed run's force-sync annotation already asked for a sync: the operator, back up, does it at
      // once (upstream: an annotation change is a change of the ExternalSecret), often before the resumed
      // run gets to this step, which then finds the Secret pointing at the restored cluster
      'rollback.db.refresh-external-secret': expect.stringMatching(/^(changed|unchanged)$/),
      'rollback.db.scale-up': 'changed',
      'rollback.db.verify': 'checked',
    })

    // The secret points at the restored cluster, user and password kept; the Secret the pods read too.
    const values = await secretValues()
    expect(values).toEqual({ engine: 'postgres', host: newEndpoint, username: 'autolytiq', password: PASSWORD, dbname: 'autolytiq', port: 5432 })
    // the operator composed the URL the pods read from those fields: new host, the password intact
    const k8sSecret = await p.core.readNamespacedSecret({ name: 'autolytiq-secrets', namespace: ns })
    const url = new URL(Buffer.from(k8sSecret.data!.DATABASE_URL!, 'base64').toString())
    expect([url.hostname, decodeURIComponent(url.password), decodeURIComponent(url.username)]).toEqual([newEndpoint, PASSWORD, 'autolytiq'])

    // Replica counts restored exactly (not the plan's --replicas=3), all available; the gateway never touched; the CronJob resumed.
    for (const [name, want] of Object.entries(REPLICAS)) {
      const d = await p.apps.readNamespacedDeployment({ name, namespace: ns })
      expect({ name, replicas: d.spec?.replicas, available: d.status?.availableReplicas }).toEqual({ name, replicas: want, available: want })
    }
    expect((await p.apps.readNamespacedDeployment({ name: 'api-gateway', namespace: ns })).metadata?.generation).toBe(gatewayGeneration)
    expect((await p.batch.readNamespacedCronJob({ name: 'data-retention-service', namespace: ns })).spec?.suspend).toBe(false)

    // The old cluster is kept; exactly one new one, which says where it came from.
    expect(await clusterEndpoint(CLUSTER)).toBe(oldEndpoint)
    expect(await restoredClusters()).toEqual([restored])
    const tags = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: restored }))).DBClusters![0]!.TagList
    expect(tags).toContainEqual({ Key: 'autolytiq:restored-from', Value: SNAPSHOT })

    // Recorded and audited, and the password appears nowhere.
    const state = p.state()
    expect(state.rollbackPoints.find((x) => x.kind === 'k8s.replica-counts')?.data).toMatchObject({
      deployments: REPLICAS,
      cronJobs: { 'data-retention-service': false },
    })
    const audited = p
      .audit()
      .filter((e) => e.action === 'step.run' && e.result === 'ok')
      .map((e) => e.step)
    expect(audited).toEqual(expect.arrayContaining(['rollback.db.restore', 'rollback.db.update-secret', 'rollback.db.scale-down', 'rollback.db.scale-up']))
    const everything =
      r.stdout + r.stderr + readFileSync(join(p.home, 'state', `${ENV}.json`), 'utf8') + readFileSync(join(p.home, 'state', `${ENV}.audit.jsonl`), 'utf8')
    expect(everything).not.toContain(PASSWORD)
  })

  it('re-running the finished rollback, or asking for --latest again, changes nothing', async () => {
    const again = await cli('--snapshot', SNAPSHOT, '--yes', '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(json<Report>(again.stdout)).toMatchObject({ result: 'succeeded', changed: 0 })
    const latest = await cli('--latest', '--yes', '--json')
    expect(latest.code, latest.stderr).toBe(0)
    expect(json<Report>(latest.stdout)).toMatchObject({ result: 'succeeded', changed: 0 })
  })
})
