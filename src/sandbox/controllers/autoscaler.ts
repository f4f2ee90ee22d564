import { readFileSync } from 'node:fs'
import {
  AppsV1Api,
  AutoscalingV2Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V2HorizontalPodAutoscaler,
  type V2MetricStatus,
} from '@kubernetes/client-node'
import { controllerDeployed } from './gate.js'
import { startReconciler } from './reconciler.js'

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const CLOCK_TICKS = 100 // USER_HZ on Linux

/** CPU seconds and resident bytes of a process, from /proc (what a kubelet's cAdvisor reads from cgroups). */
function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS // utime + stime
    const rssPages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
    return { cpuSeconds, rssBytes: rssPages * 4096 }
  } catch {
    return undefined
  }
}

/** '250m' -> 0.25, '1' -> 1; '256Mi' -> bytes. */
export function parseQuantity(q: string | undefined): number | undefined {
  if (!q) return undefined
  const m = /^([\d.]+)([a-zA-Z]*)$/.exec(q)
  if (!m) return undefined
  const units: Record<string, number> = { '': 1, m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }
  const f = units[m[2] ?? '']
  return f === undefined ? undefined : Number(m[1]) * f
}

/** What the real HPA controller says when the resource metrics API is not there (no metrics-server). */
export const NO_METRICS_API =
  'the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)'

/**
 * Plays metrics-server and the HPA controller, which need a kubelet the sandbox does not have.
 * The HPA controller is part of kube-controller-manager, so it always runs: it keeps replicas
 * within the bounds. Metrics come only once the runbook has installed metrics-server (its
 * Deployment is available), as on EKS, which ships none: until then each HPA reports
 * ScalingActive=False / FailedGetResourceMetric and no current metrics. The usage is real: each service's CPU and memory are those of the stand-in process serving it
 * (/proc), divided over the Deployment's ready replicas, as utilization of the pod requests. Like
 * the real controller it keeps each Deployment within the HPA's min/max replicas and writes
 * status (current metrics, replicas, conditions). It scales on the bounds only, never on load:
 * the stand-ins are one process whatever the replica count.
 */
export async function startAutoscaler(
  kc: KubeConfig,
  opts: {
    namespace: string
    pidOf(service: string): number | undefined
    log(m: string): void
    intervalMs?: number
    /** Where to look for metrics-server's Deployment (default: any namespace; tests use their own). */
    metricsServerNamespace?: string
  },
): Promise<{ stop(): void }> {
  const hpaApi = kc.makeApiClient(AutoscalingV2Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const last = new Map<string, { at: number; cpuSeconds: number }>()
  const namespace = opts.namespace

  const reconcileOne = async (hpa: V2HorizontalPodAutoscaler, metricsServer: boolean): Promise<void> => {
    const name = hpa.metadata?.name ?? ''
    const target = hpa.spec?.scaleTargetRef
    if (!target || target.kind !== 'Deployment') return
    let deployment
    try {
      deployment = await apps.readNamespacedDeployment({ name: target.name, namespace })
    } catch {
      return // the Deployment is not there (yet): the real controller reports that too, nothing to scale
    }
    const min = hpa.spec?.minReplicas ?? 1
    const max = hpa.spec?.maxReplicas ?? min
    const replicas = deployment.spec?.replicas ?? 1
    // What the HPA controller writes: replica counts, metrics and conditions.
    const writeStatus = (status: Record<string, unknown>) =>
      hpaApi.patchNamespacedHorizontalPodAutoscalerStatus({ name, namespace, body: { status } }, mergePatch)
    // Its conditions when it cannot scale: it got the scale, but ScalingActive is False, and why.
    const notScaling = (reason: string, message: string): Record<string, unknown>[] => {
      const t = new Date()
      return [
        {
          type: 'AbleToScale',
          status: 'True',
          reason: 'SucceededGetScale',
          message: "the HPA controller was able to get the target's current scale",
          lastTransitionTime: t,
        },
        { type: 'ScalingActive', status: 'False', reason, message, lastTransitionTime: t },
      ]
    }
    const active = hpa.status?.conditions?.find((c) => c.type === 'ScalingActive')

    if (replicas === 0 && min !== 0) {
      // As the real controller (kubernetes pkg/controller/podautoscaler/horizontal.go): a target
      // scaled to zero is left at zero, with ScalingActive False / ScalingDisabled. Scaling it back
      // to minReplicas would undo a database rollback's scale-down while the restore runs.
      if (active?.reason === 'ScalingDisabled') return
      await writeStatus({
        currentReplicas: 0,
        desiredReplicas: 0,
        currentMetrics: null,
        conditions: notScaling('ScalingDisabled', 'scaling is disabled since the replica count of the target is zero'),
      })
      return
    }
    const desired = Math.min(max, Math.max(min, replicas))
    if (desired !== replicas) {
      await apps.patchNamespacedDeploymentScale({ name: target.name, namespace, body: { spec: { replicas: desired } } }, mergePatch)
      opts.log(`autoscaler: ${target.name} ${replicas} -> ${desired} replicas (HPA bounds ${min}-${max})`)
    }

    const patchStatus = (status: Record<string, unknown>) =>
      writeStatus({ currentReplicas: deployment.status?.replicas ?? replicas, desiredReplicas: desired, ...status })

    if (!metricsServer) {
      if (active?.status === 'False' && active.reason === 'FailedGetResourceMetric' && !hpa.status?.currentMetrics?.length) return
      await patchStatus({ currentMetrics: null, conditions: notScaling('FailedGetResourceMetric', NO_METRICS_API) })
      last.delete(target.name)
      return
    }
    const pid = opts.pidOf(target.name)
    const usage = pid ? processUsage(pid) : undefined
    const ready = Math.max(1, deployment.status?.readyReplicas ?? 0)
    const container = deployment.spec?.template.spec?.containers[0]
    const now = Date.now()
    const prev = last.get(target.name)
    if (usage) last.set(target.name, { at: now, cpuSeconds: usage.cpuSeconds })
    const cpuCores = usage && prev && now > prev.at ? (usage.cpuSeconds - prev.cpuSeconds) / ((now - prev.at) / 1000) : undefined
    const metrics: V2MetricStatus[] = []
    for (const m of hpa.spec?.metrics ?? []) {
      if (m.type !== 'Resource' || !m.resource) continue
      const resource = m.resource.name
      const request = parseQuantity(container?.resources?.requests?.[resource])
      const perPod =
        resource === 'cpu' ? (cpuCores === undefined ? undefined : cpuCores / ready) : resource === 'memory' && usage ? usage.rssBytes / ready : undefined
      if (perPod === undefined) continue
      const averageValue = resource === 'cpu' ? `${Math.round(perPod * 1000)}m` : `${Math.round(perPod / 1024 ** 2)}Mi`
      metrics.push({
        type: 'Resource',
        resource: { name: resource, current: { averageValue, ...(request ? { averageUtilization: Math.round((perPod / request) * 100) } : {}) } },
      })
    }
    if (!metrics.length) return // first sample: a rate needs two
    const t = new Date()
    const condition = (type: string, reason: string, message: string): Record<string, unknown> => ({
      type,
      status: 'True',
      reason,
      message,
      lastTransitionTime: t,
    })
    await patchStatus({
      currentMetrics: metrics,
      lastScaleTime: desired !== replicas ? t : hpa.status?.lastScaleTime,
      conditions: [
        condition('AbleToScale', 'ReadyForNewScale', 'recommended size matches current size'),
        condition('ScalingActive', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count from cpu resource utilization'),
        { ...condition('ScalingLimited', 'DesiredWithinRange', 'the desired count is within the acceptable range'), status: 'False' },
      ],
    })
  }

  const reconciler = startReconciler({
    name: 'autoscaler',
    resyncMs: opts.intervalMs ?? 15_000, // metrics-server's default resolution
    onError: opts.log,
    keys: () => ['all'],
    async reconcile() {
      let list
      try {
        list = await hpaApi.listNamespacedHorizontalPodAutoscaler({ namespace })
      } catch {
        return // namespace not created yet
      }
      const metricsServer = await controllerDeployed(apps, 'metrics-server', opts.metricsServerNamespace)
      for (const hpa of list.items) await reconcileOne(hpa, metricsServer)
    },
  })
  reconciler.enqueue('all')
  return { stop: () => reconciler.stop() }
}
