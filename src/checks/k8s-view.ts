import type * as k8s from '@kubernetes/client-node'
import type { Context } from '../engine/types.js'
import { FAIL_FAST_REASONS, UNSCHEDULABLE_GRACE_MS } from '../k8s/pods.js'

/**
 * One read of each kind of object per verify run, shared by every Kubernetes check: six checks
 * looking at pods make one LIST call, not six, and they all judge the same moment in time.
 */
export class KubeView {
  private readonly cache = new Map<string, Promise<unknown>>()

  constructor(
    private readonly ctx: Context,
    readonly namespace: string,
  ) {}

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let hit = this.cache.get(key) as Promise<T> | undefined
    if (!hit) {
      hit = load()
      this.cache.set(key, hit)
    }
    return hit
  }

  deployments(): Promise<k8s.V1Deployment[]> {
    return this.once('deployments', async () => (await (await this.ctx.clients.kube.apps()).listNamespacedDeployment({ namespace: this.namespace })).items)
  }

  pods(): Promise<k8s.V1Pod[]> {
    return this.once('pods', async () => (await (await this.ctx.clients.kube.core()).listNamespacedPod({ namespace: this.namespace })).items)
  }

  hpas(): Promise<k8s.V2HorizontalPodAutoscaler[]> {
    return this.once(
      'hpas',
      async () => (await (await this.ctx.clients.kube.autoscaling()).listNamespacedHorizontalPodAutoscaler({ namespace: this.namespace })).items,
    )
  }

  pdbs(): Promise<k8s.V1PodDisruptionBudget[]> {
    return this.once('pdbs', async () => (await (await this.ctx.clients.kube.policy()).listNamespacedPodDisruptionBudget({ namespace: this.namespace })).items)
  }

  events(): Promise<k8s.CoreV1Event[]> {
    return this.once('events', async () => (await (await this.ctx.clients.kube.core()).listNamespacedEvent({ namespace: this.namespace })).items)
  }

  nodes(): Promise<k8s.V1Node[]> {
    return this.once('nodes', async () => (await (await this.ctx.clients.kube.core()).listNode()).items)
  }

  pvcs(): Promise<k8s.V1PersistentVolumeClaim[]> {
    return this.once('pvcs', async () => (await (await this.ctx.clients.kube.core()).listNamespacedPersistentVolumeClaim({ namespace: this.namespace })).items)
  }

  networkPolicies(): Promise<k8s.V1NetworkPolicy[]> {
    return this.once('netpol', async () => (await (await this.ctx.clients.kube.networking()).listNamespacedNetworkPolicy({ namespace: this.namespace })).items)
  }
}

/** True when every matchLabels pair of `selector` is on `labels` (matchExpressions are not used by our manifests). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || !Object.keys(selector).length) return false
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

/** The pods a Deployment owns, found through its own selector (whatever label scheme the manifests use). */
export function podsOf(deployment: k8s.V1Deployment, pods: k8s.V1Pod[]): k8s.V1Pod[] {
  return pods.filter((p) => selects(deployment.spec?.selector?.matchLabels, p.metadata?.labels))
}

export function time(value: Date | string | undefined | null): number | undefined {
  if (!value) return undefined
  const t = new Date(value).getTime()
  return Number.isNaN(t) ? undefined : t
}

/** Waiting reasons that will not clear by themselves: the same list the rollout fails fast on. */
const BROKEN_WAITING: ReadonlySet<string> = new Set(FAIL_FAST_REASONS)

/** How long a pod may stay Pending before it counts as stuck rather than starting. */
export const PENDING_GRACE_MS = 2 * 60_000

export interface PodProblem {
  pod: string
  problem: string
  severity: 'fail' | 'warn'
}

/** `kubectl get pods | grep -v Running`, but telling a starting pod from a broken one. */
export function podProblem(pod: k8s.V1Pod, now: number): PodProblem | undefined {
  const name = pod.metadata?.name ?? '?'
  const phase = pod.status?.phase
  const isJob = (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Job')
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  for (const c of statuses) {
    const reason = c.state?.waiting?.reason
    if (reason && BROKEN_WAITING.has(reason)) {
      const last = c.lastState?.terminated
      const why = last ? `, last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ''}` : ''
      return { pod: name, severity: 'fail', problem: `${reason} (container ${c.name}, ${c.restartCount} restarts${why})` }
    }
    if (c.lastState?.terminated?.reason === 'OOMKilled' && !c.ready)
      return { pod: name, severity: 'fail', problem: `OOMKilled (container ${c.name}, ${c.restartCount} restarts)` }
  }
  if (phase === 'Failed')
    return { pod: name, severity: isJob ? 'warn' : 'fail', problem: `Failed${pod.status?.reason ? ` (${pod.status.reason})` : ''}${isJob ? ' (job pod)' : ''}` }
  if (phase === 'Unknown') return { pod: name, severity: 'fail', problem: 'phase Unknown (node lost?)' }
  if (phase === 'Pending') {
    const age = now - (time(pod.metadata?.creationTimestamp) ?? now)
    const unsched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')
    const why = unsched?.message ? `: ${unsched.message}` : ''
    // no node can take it: nothing will change until nodes are added or requests lowered
    if (unsched?.reason === 'Unschedulable') {
      const since = now - (time(unsched.lastTransitionTime) ?? now)
      return {
        pod: name,
        severity: since >= UNSCHEDULABLE_GRACE_MS ? 'fail' : 'warn',
        problem: `Pending, Unschedulable for ${Math.round(since / 1000)} s${why}`,
      }
    }
    if (age > PENDING_GRACE_MS) return { pod: name, severity: 'fail', problem: `Pending for ${Math.round(age / 60_000)} min${why}` }
    return { pod: name, severity: 'warn', problem: `Pending (starting, ${Math.round(age / 1000)} s)${why}` }
  }
  return undefined
}

/** Container restarts whose previous run ended inside the window. */
export function recentRestarts(pod: k8s.V1Pod, since: number): { container: string; count: number; lastAt: number; reason: string }[] {
  return (pod.status?.containerStatuses ?? [])
    .filter((c) => (time(c.lastState?.terminated?.finishedAt) ?? 0) >= since && c.restartCount > 0)
    .map((c) => ({
      container: c.name,
      count: c.restartCount,
      lastAt: time(c.lastState!.terminated!.finishedAt)!,
      reason: `${c.lastState!.terminated!.reason ?? 'exit'} ${c.lastState!.terminated!.exitCode}`,
    }))
}
