/**
 * verify's Kubernetes checks against the real API server, the real controllers (Deployment,
 * ReplicaSet, disruption) and the node simulator (a `crash` image tag gives CrashLoopBackOff).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  PolicyV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
  type V1PodDisruptionBudget,
} from '@kubernetes/client-node'
import { watchUntil } from '../harness/kube-wait.js'
import { spawnProcess, type Proc } from '../harness/proc.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runChecks, type CheckReport } from '../../src/checks/run.js'
import { kubeChecks } from '../../src/checks/k8s.js'
import { catalogOf, testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const suffix = randomBytes(3).toString('hex')
const healthyNs = `verify-ok-${suffix}`
const brokenNs = `verify-crash-${suffix}`

let kc: KubeConfig
let core: CoreV1Api
let apps: AppsV1Api
let dir: string
let disruption: Proc | undefined
const contexts: TestContext[] = []

const deployment = (name: string, image: string, replicas = 2): V1Deployment => ({
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image }] } },
  },
})

/** An HPA and a PDB per service, as the kustomize base defines them. */
async function scaffold(ns: string, name: string, image: string): Promise<void> {
  await apps.createNamespacedDeployment({ namespace: ns, body: deployment(name, image) })
  await kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    },
  })
  await kc.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace: ns,
    body: { metadata: { name }, spec: { minAvailable: 1, selector: { matchLabels: { app: name } } } },
  })
}

/**
 * The HPA controller needs metrics-server, which needs kubelets (there are none here), so this
 * stands in for both: it writes the status they would write. Everything else is the real thing.
 */
async function reportHpaMetrics(ns: string, name: string): Promise<void> {
  await kc.makeApiClient(AutoscalingV2Api).replaceNamespacedHorizontalPodAutoscalerStatus({
    name,
    namespace: ns,
    body: {
      ...(await kc.makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name, namespace: ns })),
      status: {
        currentReplicas: 2,
        desiredReplicas: 2,
        currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 12, averageValue: '12m' } } }],
        conditions: [{ type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', lastTransitionTime: new Date() }],
      },
    },
  })
}

async function checksFor(ns: string, services: string[]): Promise<Record<string, CheckReport>> {
  const t = await testContext({ env: { namespace: ns, kubeconfig: kube!.kubeconfigPath }, catalog: catalogOf(services) })
  contexts.push(t)
  const reports = await runChecks(t.ctx, kubeChecks(t.ctx, { services: t.ctx.catalog.deployments, windowMinutes: 15, timeoutMs: 10_000, narrowed: false }))
  return Object.fromEntries(reports.map((r) => [r.id, r]))
}

beforeAll(async () => {
  if (!kube) return
  const { KubeConfig } = await import('@kubernetes/client-node')
  kc = new KubeConfig()
  kc.loadFromFile(kube.kubeconfigPath)
  core = kc.makeApiClient(CoreV1Api)
  apps = kc.makeApiClient(AppsV1Api)
  // The harness runs no disruption controller; this test starts the real one so PDB status is real.
  dir = makeTempDir('verify-k8s')
  disruption = spawnProcess({
    name: 'kcm-disruption',
    command: join(kube.binDir, 'kube-controller-manager'),
    args: [`--kubeconfig=${kube.kubeconfigPath}`, '--controllers=disruption-controller', '--leader-elect=false', '--secure-port=0'],
    logDir: dir,
  })
  for (const ns of [healthyNs, brokenNs]) await core.createNamespace({ body: { metadata: { name: ns } } })
  await scaffold(healthyNs, 'api-gateway', 'autolytiq/api-gateway:v1.0.0')
  await scaffold(healthyNs, 'deal-service', 'autolytiq/deal-service:v1.0.0')
  await scaffold(brokenNs, 'customer-service', 'autolytiq/customer-service:v1.0.1-crash')
  await Promise.all(
    ['api-gateway', 'deal-service'].map((name) =>
      watchUntil<V1Deployment>(kc, `/apis/apps/v1/namespaces/${healthyNs}/deployments`, (d) => d.metadata?.name === name && d.status?.availableReplicas === 2, {
        timeoutMs: 60_000,
      }),
    ),
  )
  await Promise.all(['api-gateway', 'deal-service'].map((name) => reportHpaMetrics(healthyNs, name)))
  await Promise.all(
    ['api-gateway', 'deal-service'].map((name) =>
      watchUntil<V1PodDisruptionBudget>(
        kc,
        `/apis/policy/v1/namespaces/${healthyNs}/poddisruptionbudgets`,
        (p) => p.metadata?.name === name && (p.status?.disruptionsAllowed ?? 0) >= 1,
        { timeoutMs: 60_000, what: `PDB ${name} evaluated by the disruption controller` },
      ),
    ),
  )
  // A crash-looping pod that has restarted at least twice.
  await watchUntil<V1Pod>(kc, `/api/v1/namespaces/${brokenNs}/pods`, (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, { timeoutMs: 60_000 })
}, 180_000)

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  if (core) for (const ns of [healthyNs, brokenNs]) await core.deleteNamespace({ name: ns }).catch(() => {})
  await disruption?.stop()
  if (dir) removeTempDir(dir)
})

describe.skipIf(!kube)('Kubernetes checks', () => {
  it('pass on healthy Deployments with HPAs, PDBs and no restarts', async () => {
    const r = await checksFor(healthyNs, ['api-gateway', 'deal-service'])
    expect(r['k8s.deployments']).toMatchObject({ status: 'pass', detail: '2 Deployment(s) fully available (4 pods)' })
    expect(r['k8s.pods']).toMatchObject({ status: 'pass', detail: '4 pods, none in an error state' })
    expect(r['k8s.restarts']!.status).toBe('pass')
    expect(r['k8s.hpa']).toMatchObject({ status: 'pass', detail: '2 HPA(s), all reading metrics' })
    expect(r['k8s.pdb']).toMatchObject({ status: 'pass', detail: '2 service(s) covered, all allow at least one disruption' })
    expect(r['k8s.events']).toMatchObject({ status: 'pass', detail: 'none' })
    expect(r['k8s.nodes']!.status).toBe('pass')
    expect(r['k8s.nodes']!.detail).toMatch(/^\d+ node\(s\) Ready$/)
  })

  it('fail on a crash-looping pod, naming the pod, the reason and the restarts', async () => {
    const r = await checksFor(brokenNs, ['customer-service'])
    expect(r['k8s.deployments']).toMatchObject({ status: 'fail', detail: 'customer-service: 0/2 available (Deployment does not have minimum availability.)' })
    expect(r['k8s.pods']!.status).toBe('fail')
    expect(r['k8s.pods']!.detail).toMatch(
      /^2 of 2 pods broken: customer-service-[a-z0-9]+-[a-z0-9]+: CrashLoopBackOff \(container customer-service, \d+ restarts, last exit 1 Error\)/,
    )
    expect(r['k8s.restarts']!.status).toBe('warn')
    expect(r['k8s.restarts']!.detail).toMatch(/customer-service-[a-z0-9-]+\/customer-service: \d+ restarts, last \d+ s ago \(Error 1\)/)
    expect(r['k8s.events']!.status).toBe('warn')
    expect(r['k8s.events']!.detail).toMatch(/BackOff ×1 pod\/customer-service-/)
    // No metrics here (nothing reports them), and a PDB with no healthy pod allows no disruption.
    expect(r['k8s.hpa']!.status).toBe('warn')
    expect(r['k8s.pdb']!.status).toBe('warn')
    expect(r['k8s.pdb']!.detail).toMatch(
      /customer-service: (allows 0 disruptions \(0\/1 healthy\) — node drains will block|not evaluated yet by the disruption controller)/,
    )
  })

  it('fail when a catalog Deployment or its HPA/PDB is missing', async () => {
    const r = await checksFor(healthyNs, ['api-gateway', 'deal-service', 'inventory-service'])
    expect(r['k8s.deployments']).toMatchObject({ status: 'fail', detail: `inventory-service: Deployment not found in ${healthyNs}` })
    expect(r['k8s.hpa']).toMatchObject({ status: 'fail', detail: 'no HPA for inventory-service' })
    expect(r['k8s.pdb']).toMatchObject({ status: 'fail', detail: 'no PodDisruptionBudget covers inventory-service' })
  })
})
