import { type KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node'

export interface WatchUntilOptions {
  timeoutMs?: number
  /** e.g. 'metadata.name=web' */
  fieldSelector?: string
  labelSelector?: string
  /** Used in the timeout error. */
  what?: string
}

/**
 * Resolves with the first object under `path` (a collection URL such as
 * /apis/apps/v1/namespaces/ns/deployments) that satisfies `predicate`. Event-driven: a watch
 * without resourceVersion first replays the current objects as ADDED events, then streams
 * changes, so no state change is missed and nothing polls. The watch is re-opened if the
 * server closes it. On timeout the error shows the last object seen.
 */
export function watchUntil<T extends KubernetesObject>(kc: KubeConfig, path: string, predicate: (obj: T) => boolean, opts: WatchUntilOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const what = opts.what ?? `${path}${opts.fieldSelector ? `?${opts.fieldSelector}` : ''}`
  const watch = new Watch(kc)
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let controller: AbortController | undefined
    let last: T | undefined
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      controller?.abort()
      fn()
    }
    const timer = setTimeout(() => {
      const seen = last
        ? JSON.stringify({
            metadata: { name: last.metadata?.name },
            ...((last as { status?: unknown }).status !== undefined ? { status: (last as { status?: unknown }).status } : {}),
          }).slice(0, 1500)
        : 'nothing'
      finish(() => reject(new Error(`${what}: condition not met within ${timeoutMs} ms; last seen: ${seen}`)))
    }, timeoutMs)
    const open = () => {
      watch
        .watch(
          path,
          { fieldSelector: opts.fieldSelector, labelSelector: opts.labelSelector, allowWatchBookmarks: false },
          (phase, obj: T) => {
            if (phase === 'DELETED' || phase === 'ERROR') return
            last = obj
            if (predicate(obj)) finish(() => resolve(obj))
          },
          (err: unknown) => {
            if (settled) return
            // AbortError after we finished is expected; anything else: reopen unless timed out
            if (err && !(err instanceof Error && err.name === 'AbortError')) {
              setTimeout(() => !settled && open(), 200).unref()
            } else open()
          },
        )
        .then((c) => {
          controller = c
          if (settled) c.abort()
        })
        .catch((err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))))
    }
    open()
  })
}

/**
 * Resolves once the object `name` under collection `path` no longer exists (DELETED event, or
 * absent from the initial replay). Also event-driven.
 */
export function watchUntilDeleted(kc: KubeConfig, path: string, name: string, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const what = opts.what ?? `${path}/${name} deletion`
  const watch = new Watch(kc)
  return new Promise<void>((resolve, reject) => {
    let settled = false
    let controller: AbortController | undefined
    let exists = false
    let lastStatus = ''
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      controller?.abort()
      fn()
    }
    const timer = setTimeout(() => finish(() => reject(new Error(`${what}: still present after ${timeoutMs} ms; last status: ${lastStatus}`))), timeoutMs)
    const open = () => {
      exists = false
      watch
        .watch(
          path,
          { fieldSelector: `metadata.name=${name}`, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true },
          (phase, obj: KubernetesObject & { status?: unknown }) => {
            if (phase === 'DELETED') return finish(resolve)
            if (phase === 'BOOKMARK') {
              // the initial replay is complete: if the object was not in it, it is gone
              const initialEnd = obj.metadata?.annotations?.['k8s.io/initial-events-end'] === 'true'
              if (initialEnd && !exists) finish(resolve)
              return
            }
            if (phase === 'ADDED' || phase === 'MODIFIED') {
              exists = true
              lastStatus = JSON.stringify(obj.status ?? {}).slice(0, 1000)
            }
          },
          (err: unknown) => {
            if (settled) return
            setTimeout(() => !settled && open(), err ? 200 : 0).unref()
          },
        )
        .then((c) => {
          controller = c
          if (settled) c.abort()
        })
        .catch((err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))))
    }
    open()
  })
}
