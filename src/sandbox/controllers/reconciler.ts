/**
 * The smallest useful controller loop: keys are queued on watch events and on a periodic resync,
 * each key is reconciled by one worker at a time, failures are retried on the next resync.
 * Reconcile functions compare before they write, so a resync of a settled cluster writes nothing.
 */
export interface Reconciler {
  enqueue(key: string): void
  stop(): void
}

export function startReconciler(opts: {
  name: string
  reconcile(key: string): Promise<void>
  /** All keys to look at on a resync (e.g. every object in the informer cache). */
  keys(): string[]
  resyncMs: number
  onError(message: string): void
}): Reconciler {
  const queued = new Set<string>()
  let running = false
  let stopped = false

  const drain = async (): Promise<void> => {
    if (running) return
    running = true
    try {
      while (!stopped && queued.size) {
        const key = queued.values().next().value as string
        queued.delete(key)
        try {
          await opts.reconcile(key)
        } catch (err) {
          opts.onError(`${opts.name} ${key}: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
    } finally {
      running = false
    }
  }
  const enqueue = (key: string): void => {
    if (stopped) return
    queued.add(key)
    void drain()
  }
  const timer = setInterval(() => opts.keys().forEach(enqueue), opts.resyncMs)
  timer.unref()
  return {
    enqueue,
    stop() {
      stopped = true
      clearInterval(timer)
    },
  }
}
