import type * as k8s from '@kubernetes/client-node'
import { InterruptedError, StepFailedError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'

export interface WaitOptions {
  timeoutMs: number
  signal?: AbortSignal
  onProgress?: (message: string) => void
}

/** A Deployment's ReplicaSets are named `<deployment>-<pod-template-hash>`, and a pod names its ReplicaSet as owner. */
export function deploymentOfPod(pod: k8s.V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'ReplicaSet')?.name?.replace(/-[^-]+$/, '')
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
      opts.onProgress?.(`${remaining.size} pod(s) still terminating`)
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
