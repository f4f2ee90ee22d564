import type * as k8s from '@kubernetes/client-node'
import { InterruptedError, StepFailedError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import { revisionOf } from './workloads.js'

export interface WaitOptions {
  timeoutMs: number
  signal?: AbortSignal
  /** Progress per Deployment, only when its message changes. */
  onProgress?: (name: string, message: string) => void
}

export interface RolloutStatus {
  done: boolean
  message: string
  error?: string
}

/** `kubectl rollout status` for one Deployment object, message for message. */
export function rolloutStatus(d: k8s.V1Deployment): RolloutStatus {
  if ((d.metadata?.generation ?? 0) > (d.status?.observedGeneration ?? 0)) return { done: false, message: 'waiting for the spec update to be observed' }
  const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing')
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return {
      done: false,
      message: 'stalled',
      error: `exceeded its progress deadline (${d.spec?.progressDeadlineSeconds ?? 600} s): ${progressing.message ?? ''}`,
    }
  const want = d.spec?.replicas ?? 1
  const updated = d.status?.updatedReplicas ?? 0
  const replicas = d.status?.replicas ?? 0
  const available = d.status?.availableReplicas ?? 0
  if (updated < want) return { done: false, message: `${updated} of ${want} new replicas updated` }
  if (replicas > updated) return { done: false, message: `${replicas - updated} old replica(s) pending termination` }
  if (available < updated) return { done: false, message: `${available} of ${updated} updated replicas available` }
  return { done: true, message: `rolled out (${available}/${want} available)` }
}

/** Waiting reasons a kubelet reports for containers that will not come up by themselves. */
const BROKEN = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
])

/** Why a pod will not become ready without a change, or undefined while it may still start. */
export function brokenReason(pod: k8s.V1Pod): string | undefined {
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const reason = c.state?.waiting?.reason
    if (reason && BROKEN.has(reason)) {
      const last = c.lastState?.terminated
      return `${reason} (container ${c.name} image ${c.image}, ${c.restartCount} restarts${last ? `, last exit ${last.exitCode}` : ''})`
    }
  }
  if (pod.status?.phase === 'Failed') return `Failed${pod.status.reason ? ` (${pod.status.reason})` : ''}`
  return undefined
}

/** A Deployment's ReplicaSets are named `<deployment>-<pod-template-hash>`; a pod names its ReplicaSet as owner. */
function ownerReplicaSet(pod: k8s.V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'ReplicaSet')?.name
}

export function deploymentOfPod(pod: k8s.V1Pod): string | undefined {
  return ownerReplicaSet(pod)?.replace(/-[^-]+$/, '')
}

type Handler = (phase: string, obj: k8s.KubernetesObject) => void
type Query = Record<string, string | number | boolean | undefined>

/**
 * A watch that survives the server closing it. `prepare` runs before every (re)open and returns
 * the query: without a resourceVersion the server replays current objects as ADDED (handlers here
 * treat that as idempotent); a caller that lists first passes the list's resourceVersion.
 * Returns a stop function.
 */
async function keepWatching(ctx: Context, path: string, prepare: () => Promise<Query>, onEvent: Handler, isOver: () => boolean): Promise<() => void> {
  const watch = await ctx.clients.kube.watch()
  let controller: AbortController | undefined
  let stopped = false
  const retry = (ms: number): void => {
    if (!stopped && !isOver()) setTimeout(() => void open(), ms).unref()
  }
  const open = async (): Promise<void> => {
    if (stopped || isOver()) return
    try {
      const query = await prepare()
      if (stopped || isOver()) return
      controller = await watch.watch(path, query, onEvent, () => retry(250))
      if (stopped) controller.abort()
    } catch {
      retry(1000)
    }
  }
  await open()
  return () => {
    stopped = true
    controller?.abort()
  }
}

/**
 * Waits until every named Deployment has rolled out, by watching Deployments and their pods (no
 * polling). Fails fast when a pod of the new ReplicaSet is broken (CrashLoopBackOff, image pull
 * errors...) instead of waiting out the progress deadline, and when the deadline passes.
 */
export async function waitForRollouts(ctx: Context, namespace: string, names: string[], opts: WaitOptions): Promise<void> {
  if (names.length === 0) return
  const pending = new Set(names)
  const latest = new Map<string, k8s.V1Deployment>()
  const lastMessage = new Map<string, string>()
  let settled = false
  const stops: (() => void)[] = []

  await new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      for (const stop of stops) stop()
      if (err) reject(err)
      else resolve()
    }
    const onAbort = (): void => finish(new InterruptedError('interrupted while waiting for the rollout'))
    const timer = setTimeout(() => {
      const where = [...pending].map((n) => `${n}: ${lastMessage.get(n) ?? 'no status yet'}`).join('; ')
      finish(new StepFailedError(`rollout not finished within ${Math.round(opts.timeoutMs / 1000)} s (${where})`))
    }, opts.timeoutMs)
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    const onDeployment: Handler = (phase, obj) => {
      const d = obj as k8s.V1Deployment
      const name = d.metadata?.name ?? ''
      if (!pending.has(name)) return
      if (phase === 'DELETED') return finish(new StepFailedError(`Deployment ${name} was deleted during the rollout`))
      latest.set(name, d)
      const s = rolloutStatus(d)
      if (s.error) return finish(new StepFailedError(`${name} ${s.error}`))
      if (lastMessage.get(name) !== s.message) {
        lastMessage.set(name, s.message)
        opts.onProgress?.(name, s.message)
      }
      if (s.done) pending.delete(name)
      if (pending.size === 0) finish()
    }

    const onPod: Handler = (phase, obj) => {
      const pod = obj as k8s.V1Pod
      const name = deploymentOfPod(pod)
      if (phase === 'DELETED' || !name || !pending.has(name)) return
      const why = brokenReason(pod)
      if (!why) return
      void isFromNewestReplicaSet(ctx, namespace, pod, latest.get(name)).then((newest) => {
        if (newest)
          finish(
            new StepFailedError(
              `${name}: pod ${pod.metadata?.name} ${why}; the new pods will not become ready`,
              `inspect: \`kubectl -n ${namespace} describe pod ${pod.metadata?.name}\``,
            ),
          )
      })
    }

    const isOver = (): boolean => settled
    void Promise.all([
      keepWatching(ctx, `/apis/apps/v1/namespaces/${namespace}/deployments`, async () => ({}), onDeployment, isOver),
      keepWatching(ctx, `/api/v1/namespaces/${namespace}/pods`, async () => ({}), onPod, isOver),
    ]).then(
      (s) => {
        stops.push(...s)
        if (settled) for (const stop of s) stop()
      },
      (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
    )
  })
}

/**
 * Old pods may be broken and on their way out; only the pods of the ReplicaSet the Deployment is
 * rolling out to (same revision) say the rollout itself is failing.
 */
async function isFromNewestReplicaSet(ctx: Context, namespace: string, pod: k8s.V1Pod, d: k8s.V1Deployment | undefined): Promise<boolean> {
  const rsName = ownerReplicaSet(pod)
  if (!rsName || !d) return false
  try {
    const rs = await (await ctx.clients.kube.apps()).readNamespacedReplicaSet({ name: rsName, namespace })
    return revisionOf(rs.metadata) !== undefined && revisionOf(rs.metadata) === revisionOf(d.metadata)
  } catch {
    return false // gone meanwhile: it was an old ReplicaSet
  }
}

/**
 * Waits until no pod of the named Deployments exists any more (scaled to zero and terminated), so
 * nothing still holds a connection to the old database. List, then watch from the list's version;
 * a reopened watch lists again, so no deletion is missed.
 */
export async function waitForPodsGone(ctx: Context, namespace: string, names: string[], opts: WaitOptions): Promise<void> {
  const wanted = new Set(names)
  const core = await ctx.clients.kube.core()
  const remaining = new Set<string>()
  const relist = async (): Promise<Query> => {
    const list = await core.listNamespacedPod({ namespace })
    remaining.clear()
    for (const p of list.items) if (wanted.has(deploymentOfPod(p) ?? '')) remaining.add(p.metadata?.name ?? '')
    return { resourceVersion: list.metadata?.resourceVersion }
  }
  const query = await relist()
  if (remaining.size === 0) return
  let settled = false
  let stop: (() => void) | undefined
  await new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      stop?.()
      if (err) reject(err)
      else resolve()
    }
    const onAbort = (): void => finish(new InterruptedError('interrupted while waiting for pods to stop'))
    const timer = setTimeout(
      () =>
        finish(
          new StepFailedError(`${remaining.size} pod(s) still running after ${Math.round(opts.timeoutMs / 1000)} s: ${[...remaining].slice(0, 5).join(', ')}`),
        ),
      opts.timeoutMs,
    )
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const report = (): void => {
      opts.onProgress?.('pods', `${remaining.size} pod(s) still terminating`)
      if (remaining.size === 0) finish()
    }
    const onPod: Handler = (phase, obj) => {
      const pod = obj as k8s.V1Pod
      if (!wanted.has(deploymentOfPod(pod) ?? '')) return
      const had = remaining.size
      if (phase === 'DELETED') remaining.delete(pod.metadata?.name ?? '')
      else remaining.add(pod.metadata?.name ?? '')
      if (remaining.size !== had) report()
    }
    let first = true
    const prepare = async (): Promise<Query> => {
      if (first) {
        first = false
        return query
      }
      const q = await relist()
      report()
      return q
    }
    report()
    void keepWatching(ctx, `/api/v1/namespaces/${namespace}/pods`, prepare, onPod, () => settled).then(
      (s) => {
        stop = s
        if (settled) s()
      },
      (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
    )
  })
}
