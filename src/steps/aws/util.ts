import { StepFailedError } from '../../engine/errors.js'
import type { Context } from '../../engine/types.js'

/** The AWS error code of an SDK v3 exception (its name; S3 sometimes only sets Code). */
export function awsErrorName(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined
  const e = err as Error & { Code?: string; code?: string }
  return e.Code ?? e.name ?? e.code
}

export function isAwsError(err: unknown, ...names: string[]): boolean {
  const name = awsErrorName(err)
  return name !== undefined && names.includes(name)
}

/** HTTP status of an SDK v3 exception (HeadBucket answers 404/403 without a code). */
export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
}

export interface PollOptions<T> {
  /** What is awaited, for progress lines and the timeout message: 'certificate ISSUED'. */
  what: string
  timeoutMs: number
  /** The longest pause between probes; the first pauses are shorter (1 s, doubling up to this). */
  intervalMs: number
  /** One read-only probe: `done` ends the wait with `value`; `progress` is shown while waiting. */
  probe: () => Promise<{ done: boolean; value?: T; progress: string }>
  /** Shown with the timeout error: how to resume. */
  next: string
}

/**
 * Polls with a deadline, reporting progress through ctx.log; stops at once on Ctrl-C (ctx.signal).
 * Used where AWS offers no event to watch (ACM validation, cluster status). The pauses start at
 * 1 s and double up to intervalMs: what is ready in seconds (a certificate DNS validates at once,
 * a table just created) is seen in seconds, and a long wait still costs one call per interval.
 */
export async function pollUntil<T>(ctx: Context, opts: PollOptions<T>): Promise<T> {
  const started = Date.now()
  let pause = Math.min(1000, opts.intervalMs)
  let last = ''
  for (;;) {
    const r = await opts.probe()
    if (r.done) return r.value as T
    last = r.progress
    const elapsed = Date.now() - started
    if (elapsed >= opts.timeoutMs) throw new StepFailedError(`still waiting for ${opts.what} after ${Math.round(elapsed / 1000)} s (${last})`, opts.next)
    ctx.log(`waiting for ${opts.what}: ${last} (${Math.round(elapsed / 1000)} s of ${Math.round(opts.timeoutMs / 1000)} s)`)
    await sleep(Math.min(pause, opts.timeoutMs - elapsed), ctx.signal)
    pause = Math.min(pause * 2, opts.intervalMs)
  }
}

/** A sleep that ends early (rejecting) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error('aborted'))
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason ?? new Error('aborted'))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** `a, b and 3 more`: keeps details and errors one line long. */
export function listSome(items: string[], max = 4): string {
  if (items.length <= max) return items.join(', ')
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`
}
