/**
 * HPA metrics are judged once (src/checks/hpa-metrics.ts): `autolytiq verify` and the deploy's
 * verify.all give the same verdict for the same HPA state — reading, not yet (within the grace
 * after creation), broken. Real API server and HPAs; their status is written by the sandbox's
 * autoscaler, the stand-in for metrics-server + the HPA controller's metrics (no kubelets here):
 * "no metrics API" until a metrics-server Deployment is available, then current metrics.
 */
import { randomBytes } from 'node:crypto'
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { watchUntil } from '../harness/kube-wait.js'
import type { CheckReport } from '../../src/checks/run.js'
import type { HpaMetricsVerdict } from '../../src/checks/hpa-metrics.js'
import { runVerify } from '../../src/engine/verify.js'
import { startAutoscaler } from '../../src/sandbox/controllers/autoscaler.js'
import { settleHpaMetrics } from '../../src/steps/verify/verify-all.js'
import { catalogOf, testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const id = randomBytes(3).toString('hex')
const SERVICE = 'deal-service' // the catalog's: replicas 3-10, so it must have an HPA

let kc: KubeConfig
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const namespaces: string[] = []
const autoscalers: { stop(): void }[] = []
const contexts: TestContext[] = []

// app.kubernetes.io/name: how the sandbox finds metrics-server's Deployment, as its chart labels it
const deployment = (name: string, image: string, replicas: number): V1Deployment => ({
  metadata: { name, labels: { 'app.kubernetes.io/name': name } },
  spec: {
    replicas,
    selector: { matchLabels: { 'app.kubernetes.io/name': name } },
    template: {
      metadata: { labels: { 'app.kubernetes.io/name': name } },
      spec: { containers: [{ name, image, resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
    },
  },
})

/** A namespace with the service's Deployment and HPA (as the kustomize base has them) and its own autoscaler. */
async function scaffold(suffix: string): Promise<string> {
  const namespace = `hpa-${suffix}-${id}`
  namespaces.push(namespace)
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: deployment(SERVICE, `autolytiq/${SERVICE}:v1.0.0`, 3) })
  await kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
    namespace,
    body: {
      metadata: { name: SERVICE },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: SERVICE },
        minReplicas: 3,
        maxReplicas: 10,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    },
  })
  autoscalers.push(await startAutoscaler(kc, { namespace, pidOf: () => process.pid, log: () => {}, intervalMs: 500, metricsServerNamespace: namespace }))
  return namespace
}

/** metrics-server's Deployment becomes available in the namespace (what helm.metrics-server installs). */
async function installMetricsServer(namespace: string): Promise<void> {
  await kc
    .makeApiClient(AppsV1Api)
    .createNamespacedDeployment({ namespace, body: deployment('metrics-server', 'registry.k8s.io/metrics-server/metrics-server:v0.7.2', 1) })
}

async function contextFor(namespace: string, graceSeconds: number): Promise<TestContext> {
  const t = await testContext({
    env: { namespace, kubeconfig: kube!.kubeconfigPath, hpaMetricsGraceSeconds: graceSeconds },
    catalog: catalogOf([SERVICE]),
  })
  contexts.push(t)
  return t
}

/** `autolytiq verify`'s k8s.hpa row (the Kubernetes layer; the other layers have nothing to reach here). */
async function verifyHpa(t: TestContext): Promise<CheckReport> {
  const r = await runVerify(t.ctx, { layers: ['kubernetes'] })
  return r.checks.find((c) => c.id === 'k8s.hpa')!
}

/** The deploy's verify.all: the same first look, then the bounded wait for "not yet" HPAs. */
async function deployHpa(t: TestContext, pollMs = 500): Promise<CheckReport> {
  const first = await runVerify(t.ctx, { layers: ['kubernetes'] })
  return (await settleHpaMetrics(t.ctx, first, pollMs)).checks.find((c) => c.id === 'k8s.hpa')!
}

const verdicts = (r: CheckReport): string[] => ((r.data?.hpas as HpaMetricsVerdict[] | undefined) ?? []).map((v) => `${v.hpa}: ${v.verdict}`)

/** The HPA state the autoscaler writes without a metrics API: ScalingActive False, FailedGetResourceMetric. */
async function noMetricsApiWritten(namespace: string): Promise<void> {
  await watchUntil<V2HorizontalPodAutoscaler>(
    kc,
    `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers`,
    (h) => h.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.reason === 'FailedGetResourceMetric') ?? false,
    { timeoutMs: 30_000, what: 'the autoscaler reporting no metrics API' },
  )
}

beforeAll(async () => {
  if (!kube) return
  kc = new KubeConfig()
  kc.loadFromFile(kube.kubeconfigPath)
})

afterAll(async () => {
  for (const a of autoscalers) a.stop()
  for (const c of contexts) c.cleanup()
  if (kc)
    for (const ns of namespaces)
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: ns })
        .catch(() => {})
})

describe.skipIf(!kube)('HPA metrics: one verdict for deploy and verify', () => {
  it('a new HPA without metrics is "not yet"; the deploy waits for its first reading, and then both say reading', async () => {
    const ns = await scaffold('new')
    await noMetricsApiWritten(ns)
    const t = await contextFor(ns, 120)
    const before = await verifyHpa(t)
    expect(verdicts(before)).toEqual([`${SERVICE}: not-yet`])
    expect(before.status).toBe('warn')
    expect(before.detail).toMatch(new RegExp(`^${SERVICE}: no metrics yet \\(created \\d+ s ago; the first reading is due by \\d\\d:\\d\\d:\\d\\d UTC\\)$`))

    // The deploy's verify.all looks again while metrics-server comes up (as helm.metrics-server installs it)...
    const t0 = Date.now()
    const [deploy] = await Promise.all([deployHpa(t), new Promise((r) => setTimeout(r, 1_000)).then(() => installMetricsServer(ns))])
    expect(Date.now() - t0).toBeLessThan(60_000)
    // ...and reports what verify reports right after: the same verdict, the same words.
    const after = await verifyHpa(t)
    expect(verdicts(deploy)).toEqual([`${SERVICE}: reading`])
    expect(verdicts(after)).toEqual(verdicts(deploy))
    expect(deploy).toMatchObject({ status: 'pass', detail: '1 HPA(s), all reading metrics' })
    expect(after).toMatchObject({ status: deploy.status, detail: deploy.detail })
  })

  it('past the grace without a metrics API it is broken, the same for both, naming the fix; the deploy does not wait', async () => {
    const ns = await scaffold('broken')
    await noMetricsApiWritten(ns)
    const t = await contextFor(ns, 0)
    const t0 = Date.now()
    const deploy = await deployHpa(t)
    expect(Date.now() - t0).toBeLessThan(15_000) // nothing to wait for
    const verify = await verifyHpa(t)
    expect(verdicts(deploy)).toEqual([`${SERVICE}: broken`])
    expect(verdicts(verify)).toEqual(verdicts(deploy))
    expect(verify.status).toBe('warn')
    expect(verify.detail).toMatch(
      new RegExp(
        `^${SERVICE}: no metrics \\d+ s after it was created \\(.*unable to fetch metrics from resource metrics API.*\\) — install it: autolytiq deploy --env test --only helm.metrics-server$`,
      ),
    )
    // the same words; the HPA's age in them may have moved on by a second between the two looks
    const ageless = (detail: string | undefined) => detail?.replace(/no metrics \d+ s after/, 'no metrics N s after')
    expect(ageless(deploy.detail)).toBe(ageless(verify.detail))
  })

  it('a "not yet" that never gets metrics: the deploy waits only until it is due, then says broken, as verify does', async () => {
    const ns = await scaffold('late')
    await noMetricsApiWritten(ns)
    const grace = 30
    const t = await contextFor(ns, grace)
    const first = await verifyHpa(t)
    const ageAtStart = (first.data!.hpas as HpaMetricsVerdict[])[0]!
    expect(ageAtStart.verdict).toBe('not-yet')
    const t0 = Date.now()
    const deploy = await deployHpa(t)
    // Bounded: no longer than what was left of the grace, plus one poll and a margin for a loaded machine.
    const left = ageAtStart.verdict === 'not-yet' ? Date.parse(ageAtStart.dueAt) - t0 : 0
    expect(Date.now() - t0).toBeLessThan(left + 10_000)
    const verify = await verifyHpa(t)
    expect(verdicts(deploy)).toEqual([`${SERVICE}: broken`])
    expect(verdicts(verify)).toEqual(verdicts(deploy))
    expect(verify.status).toBe(deploy.status)
  })

  it('a target scaled to zero stays at zero (ScalingDisabled, as kube-controller-manager does); scaled up, the HPA reads metrics again', async () => {
    const ns = await scaffold('zero')
    await installMetricsServer(ns)
    await watchUntil<V2HorizontalPodAutoscaler>(
      kc,
      `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
      (h) => h.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.reason === 'ValidMetricFound') ?? false,
      { timeoutMs: 30_000, what: 'the HPA reading metrics' },
    )
    const apps = kc.makeApiClient(AppsV1Api)
    // What rollback.db.scale-down does: replicas 0 while the restore runs.
    await apps.patchNamespacedDeploymentScale({ name: SERVICE, namespace: ns, body: { spec: { replicas: 0 } } }, mergePatch)
    await watchUntil<V2HorizontalPodAutoscaler>(
      kc,
      `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
      (h) => h.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.reason === 'ScalingDisabled') ?? false,
      { timeoutMs: 30_000, what: 'ScalingDisabled' },
    )
    // Several autoscaler rounds (500 ms here) later the Deployment is still at zero (the old stand-in put it back to 3).
    await new Promise((r) => setTimeout(r, 2_000))
    expect((await apps.readNamespacedDeployment({ name: SERVICE, namespace: ns })).spec?.replicas).toBe(0)
    const t = await contextFor(ns, 0)
    const disabled = await verifyHpa(t)
    expect(verdicts(disabled)).toEqual([`${SERVICE}: not-yet`])
    expect(disabled.detail).toMatch(
      new RegExp(
        `^${SERVICE}: scaling disabled while its target had zero replicas \\(the HPA controller resumes at its next sync, by \\d\\d:\\d\\d:\\d\\d UTC\\)$`,
      ),
    )

    // What rollback.db.scale-up does; the deploy's verify.all waits the HPA's next sync out.
    await apps.patchNamespacedDeploymentScale({ name: SERVICE, namespace: ns, body: { spec: { replicas: 3 } } }, mergePatch)
    const deploy = await deployHpa(t)
    expect(verdicts(deploy)).toEqual([`${SERVICE}: reading`])
  })
})
