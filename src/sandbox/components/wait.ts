import { describeExit, type Proc } from './proc.js'

export interface WaitOptions {
  timeoutMs: number
  /** Delay between probes (default 100 ms). */
  intervalMs?: number
  /** Components whose death aborts the wait early and whose log tails go into the error. */
  procs?: Proc[]
}

function logTails(procs: Proc[] | undefined): string {
  return (procs ?? []).map((p) => `\n--- ${p.name} log tail (${p.logPath}) ---\n${p.logTail()}`).join('')
}

/**
 * Polls `probe` until it returns a value other than undefined/null/false, with a deadline.
 * Used for readiness of components that offer no event to wait on (an HTTP health endpoint).
 * Fails early, with the component's log tail, when a watched process dies.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  const interval = opts.intervalMs ?? 100
  let lastError = ''
  for (;;) {
    for (const p of opts.procs ?? []) {
      const info = p.exitInfo()
      if (info) throw new Error(`${what}: ${p.name} ${describeExit(info)} before it was ready${logTails(opts.procs)}`)
    }
    try {
      const value = await probe()
      if (value !== undefined && value !== null && value !== false) return value
      lastError = ''
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err)
    }
    if (Date.now() >= deadline) {
      const last = lastError ? ` (last error: ${lastError})` : ''
      throw new Error(`${what}: not ready after ${opts.timeoutMs} ms${last}${logTails(opts.procs)}`)
    }
    await new Promise((r) => setTimeout(r, interval))
  }
}

/** Rejects with a clear message when `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Small fetch wrapper with its own timeout, for readiness probes. */
export async function fetchWithTimeout(url: string, init: RequestInit = {}, ms = 2000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) })
}
