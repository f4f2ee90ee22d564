import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node'

export interface RunningInformer<T extends KubernetesObject> {
  cache: ObjectCache<T>
  stop(): Promise<void>
}

/**
 * A client-go style informer (list, then watch) that calls `onChange` for every add, update and
 * delete, and restarts itself when the watch fails (an apiserver restart, a namespace or CRD not
 * there yet). The sandbox's gateway and mini controllers all react to the cluster this way.
 */
export async function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  onChange: (obj: T, deleted: boolean) => void,
  onError: (message: string) => void = () => {},
  labelSelector?: string,
): Promise<RunningInformer<T>> {
  const informer = makeInformer<T>(kc, path, list, labelSelector)
  let stopped = false
  // a missing CRD or namespace fails every restart the same way: say it once
  let lastError = ''
  const report = (err: unknown): void => {
    const code = (err as { code?: number }).code
    const reason = code === 404 ? 'not served yet (CRD or namespace missing); watching for it' : err instanceof Error ? err.message.split('\n')[0] : String(err)
    const message = `${path}: ${reason}`
    if (message !== lastError) onError(message)
    lastError = message
  }
  informer.on('add', (o) => onChange(o, false))
  informer.on('update', (o) => onChange(o, false))
  informer.on('delete', (o) => onChange(o, true))
  let pending: NodeJS.Timeout | undefined
  const restart = (): void => {
    if (stopped || pending) return
    pending = setTimeout(() => {
      pending = undefined
      if (!stopped) informer.start().catch(restart)
    }, 1000)
    pending.unref()
  }
  informer.on('error', (err: unknown) => {
    if (stopped) return
    report(err)
    restart()
  })
  await informer.start().catch((err: unknown) => {
    report(err)
    restart()
  })
  return {
    cache: informer,
    async stop() {
      stopped = true
      clearTimeout(pending)
      await informer.stop()
    },
  }
}
