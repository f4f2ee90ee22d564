/**
 * `autolytiq rollback database` (runbooks/rollback-database.yaml) end to end: RDS and Secrets
 * Manager in moto, Deployments / Secret / ExternalSecret on the real control plane. The test plays
 * the External Secrets operator (there is none here): on a new `force-sync` annotation it copies
 * the `url` of the database secret from Secrets Manager into the Secret, as ESO would.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CustomObjectsApi, Watch, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node'
import { execa } from 'execa'
import { BIN, REPO, runCli } from '../helpers/cli.js'
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
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
/** Database clients at deliberately uneven counts (not the catalog minimums), plus the gateway, which does not use the database. */
const REPLICAS: Record<string, number> = { 'deal-service': 3, 'auth-service': 2, 'customer-service': 1, 'config-service': 2 }
const GATEWAY_REPLICAS = 2

let p: RollbackProject
let rds: RDSClient
let sm: SecretsManagerClient
let oldEndpoint: string
let operator: { respond: boolean; syncs: number; stop(): void }

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

/** Copies Secrets Manager's database url into the Secret, as the operator does for DATABASE_URL. */
async function syncSecret(): Promise<void> {
  const url = (await secretValues()).url!
  const body = { metadata: { name: 'autolytiq-secrets', namespace: ns }, data: { DATABASE_URL: Buffer.from(url).toString('base64') } }
  await p.core.replaceNamespacedSecret({ name: 'autolytiq-secrets', namespace: ns, body }).catch(async (err: { code?: number }) => {
    if (err.code !== 404) throw err
    await p.core.createNamespacedSecret({ namespace: ns, body })
  })
}

/** The External Secrets operator's part: a new force-sync value makes it sync now (while `respond`). */
async function startOperatorStandIn(): Promise<typeof operator> {
  const handled = new Set<string>()
  const state = { respond: true, syncs: 0, stop: () => {} }
  const onEvent = (_phase: string, es: KubernetesObject): void => {
    const value = es.metadata?.annotations?.['force-sync']
    if (!value || handled.has(value) || !state.respond) return
    handled.add(value)
    void syncSecret().then(() => state.syncs++)
  }
  const controller = await new Watch(p.kc).watch(`/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`, {}, onEvent, () => {})
  state.stop = () => controller.abort()
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

    // Kubernetes: the ExternalSecret CRD (the project's own manifest), the ExternalSecret, its Secret, the services.
    const crd = await execa(kube!.kubectlPath, ['apply', '-f', join(REPO, 'k8s/sandbox-charts/external-secrets/crds/external-secrets.io.yaml')], {
      env: { KUBECONFIG: kube!.kubeconfigPath },
      reject: false,
    })
    expect(crd.exitCode, crd.stderr).toBe(0)
    await p.core.createNamespace({ body: { metadata: { name: ns } } })
    await watchUntil(
      p.kc,
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      (c: KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }) =>
        Boolean(
          c.metadata?.name === 'externalsecrets.external-secrets.io' && c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'),
        ),
    )
    await p.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
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
          secretStoreRef: { name: 'aws-secrets-manager', kind: 'ClusterSecretStore' },
          target: { name: 'autolytiq-secrets', creationPolicy: 'Owner' },
          data: [{ secretKey: 'DATABASE_URL', remoteRef: { key: SECRET_ID, property: 'url' } }],
        },
      },
    })
    await syncSecret()
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
    operator = await startOperatorStandIn()
  }, 180_000)

  afterAll(async () => {
    operator?.stop()
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

    // First attempt: the operator does not answer, so the run waits in the refresh step; kill it there.
    operator.respond = false
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
      'rollback.db.refresh-external-secret': 'changed',
      'rollback.db.scale-up': 'changed',
      'rollback.db.verify': 'checked',
    })

    // The secret points at the restored cluster, user and password kept; the Secret the pods read too.
    const values = await secretValues()
    expect(values).toMatchObject({ host: newEndpoint, username: 'autolytiq', password: PASSWORD, dbname: 'autolytiq', port: 5432 })
    expect(new URL(values.url!).hostname).toBe(newEndpoint)
    expect(new URL(values.url!).password).toBe(PASSWORD)
    const k8sSecret = await p.core.readNamespacedSecret({ name: 'autolytiq-secrets', namespace: ns })
    expect(new URL(Buffer.from(k8sSecret.data!.DATABASE_URL!, 'base64').toString()).hostname).toBe(newEndpoint)

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
