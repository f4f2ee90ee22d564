import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'

export interface LiveList<T extends KubernetesObject> {
  /** The current objects (kept up to date by the watch). */
  items(): ReadonlyArray<T>
  get(name: string, namespace?: string): T | undefined
  stop(): Promise<void>
}

export interface LiveListOptions {
  labelSelector?: string
  fieldSelector?: string
  /** Called after every add/update/delete, and once after the initial list. */
  onChange(): void
  /** A watch that broke and is being re-established (progress, not an error). */
  onReconnect?(reason: string): void
}

/**
 * List, then watch (client-node's ListWatch): the cache is complete as soon as this resolves and
 * every change arrives as an event, so waits react immediately instead of sleeping and polling.
 * A watch the server closes is re-listed and resumed until stop().
 */
export async function liveList<T extends KubernetesObject>(
  kube: KubeClients,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  opts: LiveListOptions,
): Promise<LiveList<T>> {
  const lib = await kube.lib()
  const kc = await kube.config()
  const informer = new lib.ListWatch<T>(path, new lib.Watch(kc), list, false, opts.labelSelector, opts.fieldSelector)
  let stopped = false
  const changed = (): void => {
    if (!stopped) opts.onChange()
  }
  informer.on('add', changed)
  informer.on('update', changed)
  informer.on('delete', changed)
  // ListWatch stops on an error (apiserver restart, expired resourceVersion): start it again,
  // and keep trying while the API server is unreachable; the caller's deadline bounds the wait.
  // While it is down every retry fails: report the outage once, not every 500 ms.
  let reconnecting = false
  const restart = (): void => {
    setTimeout(() => {
      if (stopped) return
      informer.start().then(() => {
        reconnecting = false
        changed()
      }, restart)
    }, 500).unref()
  }
  informer.on('error', (err: unknown) => {
    if (stopped) return
    if (!reconnecting) opts.onReconnect?.(err instanceof Error ? err.message : String(err))
    reconnecting = true
    restart()
  })
  await informer.start()
  changed()
  return {
    items: () => informer.list(),
    get: (name, namespace) => informer.get(name, namespace),
    async stop() {
      stopped = true
      await informer.stop()
    },
  }
}
