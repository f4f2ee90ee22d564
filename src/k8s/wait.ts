import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'
import { liveList, type LiveList } from './informer.js'

export type Verdict<R> = { done: true; value: R } | { done: false; progress: string } | { error: Error }

export interface WaitForObjectOptions<T extends KubernetesObject, R> {
  /** Collection URL, e.g. /apis/external-secrets.io/v1/namespaces/prod/externalsecrets */
  path: string
  /** Lists the collection narrowed to the object (fieldSelector metadata.name=<name>). */
  list: (fieldSelector: string) => Promise<KubernetesListObject<T>>
  name: string
  namespace?: string
  /** Decides on the object's latest state (undefined: it does not exist yet). */
  evaluate: (obj: T | undefined) => Verdict<R>
  timeoutMs: number
  signal?: AbortSignal
  /** Progress: called when the verdict's progress text changes. */
  log?: (line: string) => void
  /** The error to throw at the deadline, given the last state seen. */
  onTimeout: (last: T | undefined, progress: string) => Error
}

/**
 * Waits for one object to reach a state, watching it (list + watch, no polling): resolves as soon
 * as `evaluate` says done, rejects when it reports an error, at the deadline, or on abort.
 */
export async function waitForObject<T extends KubernetesObject, R>(kube: KubeClients, opts: WaitForObjectOptions<T, R>): Promise<R> {
  const fieldSelector = `metadata.name=${opts.name}`
  let live: LiveList<T> | undefined
  let settled = false
  let lastProgress = ''
  let resolveWait!: (v: R) => void
  let rejectWait!: (e: unknown) => void
  const result = new Promise<R>((res, rej) => {
    resolveWait = res
    rejectWait = rej
  })
  // observed below unless starting the watch fails first; never an unhandled rejection
  result.catch(() => undefined)
  const current = (): T | undefined => live?.get(opts.name, opts.namespace)
  const check = (): void => {
    if (settled || !live) return
    const v = opts.evaluate(current())
    if ('error' in v) {
      settled = true
      rejectWait(v.error)
    } else if (v.done) {
      settled = true
      resolveWait(v.value)
    } else if (v.progress !== lastProgress) {
      lastProgress = v.progress
      opts.log?.(v.progress)
    }
  }
  const timer = setTimeout(() => {
    if (settled) return
    settled = true
    rejectWait(opts.onTimeout(current(), lastProgress))
  }, opts.timeoutMs)
  const onAbort = (): void => {
    if (settled) return
    settled = true
    rejectWait(opts.signal?.reason ?? new Error('aborted'))
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    live = await liveList<T>(kube, opts.path, () => opts.list(fieldSelector), {
      fieldSelector,
      onChange: check,
      onReconnect: (reason) => opts.log?.(`watch interrupted (${reason}); reconnecting`),
    })
    check()
    return await result
  } finally {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
    await live?.stop()
  }
}

export interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
}

/** The condition of `type` in an object's status, if any. */
export function findCondition(obj: unknown, type: string): Condition | undefined {
  const conditions = (obj as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions
  return conditions?.find((c) => c.type === type)
}

export function describeCondition(c: Condition | undefined): string {
  if (!c) return 'no status reported yet'
  return `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`
}
