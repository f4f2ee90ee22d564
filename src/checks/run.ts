import type { Check, CheckOutcome, Context } from '../engine/types.js'
import { errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'

export interface CheckReport extends CheckOutcome {
  id: string
  title: string
  layer: string
  services?: string[]
}

/**
 * Runs checks concurrently, each under its own timeout and all under one overall deadline:
 * the wall time is the slowest check, not the sum. A check that throws or overruns fails with
 * the reason; it never hangs the report.
 */
export async function runChecks(ctx: Context, checks: Check[], opts: { deadlineMs?: number } = {}): Promise<CheckReport[]> {
  const overall = AbortSignal.any([ctx.signal, ...(opts.deadlineMs ? [AbortSignal.timeout(opts.deadlineMs)] : [])])
  return Promise.all(
    checks.map(async (c): Promise<CheckReport> => {
      const t0 = performance.now()
      const signal = AbortSignal.any([overall, AbortSignal.timeout(c.timeoutMs)])
      let outcome: Omit<CheckOutcome, 'ms'>
      try {
        outcome = await new Promise((resolve, reject) => {
          const onAbort = (): void =>
            resolve({ status: 'fail', detail: overall.aborted ? 'stopped: overall deadline reached' : `no answer within ${c.timeoutMs} ms` })
          signal.addEventListener('abort', onAbort, { once: true })
          c.run(ctx, signal)
            .then(resolve, reject)
            .finally(() => signal.removeEventListener('abort', onAbort))
        })
      } catch (err) {
        outcome = { status: 'fail', detail: errorMessage(err) }
      }
      return {
        id: c.id,
        title: c.title,
        layer: c.layer,
        services: c.services,
        status: outcome.status,
        detail: redact(outcome.detail),
        ms: Math.round(performance.now() - t0),
        ...(outcome.next ? { next: redact(outcome.next) } : {}),
        ...(outcome.data ? { data: outcome.data } : {}),
      }
    }),
  )
}

export function worst(reports: { status: string }[]): 'pass' | 'warn' | 'fail' {
  if (reports.some((r) => r.status === 'fail')) return 'fail'
  if (reports.some((r) => r.status === 'warn')) return 'warn'
  return 'pass'
}
