import { InterruptedError, errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import type { Context } from '../engine/types.js'
import { waitForRollouts } from '../k8s/rollout.js'
import { verifyWorkloads, type VerifyOutcome } from './verify.js'
import { applyChange, type WorkloadChange } from './workloads.js'

export interface ExecutionOutcome {
  /** Services whose change the API server accepted. */
  changed: string[]
  /** service -> why its change was refused. */
  refused: Record<string, string>
  /** The rollout wait failed (crash, image pull, deadline): verification was not attempted. */
  rolloutError?: string
  verification: VerifyOutcome[]
  timings: { applyMs: number; rolloutMs: number; verifyMs: number }
}

/** Everything that went wrong, one line each; empty when every workload is changed and verified. */
export function problemsOf(o: ExecutionOutcome): string[] {
  return [
    ...Object.entries(o.refused).map(([s, why]) => `${s} not changed: ${why}`),
    ...(o.rolloutError ? [o.rolloutError] : []),
    ...o.verification.filter((v) => !v.ok).map((v) => `${v.service} not verified: ${v.detail}`),
  ]
}

/**
 * Applies planned changes (all at once: an outage is no time for one-by-one), waits for the
 * rollouts with fail-fast, verifies, and writes an audit entry per workload: started, then ok or
 * failed. Ctrl-C during the wait throws InterruptedError after auditing; the cluster keeps rolling.
 */
export async function executeChanges(ctx: Context, todo: WorkloadChange[], opts: { signal: AbortSignal; timeoutMs: number }): Promise<ExecutionOutcome> {
  const outcome: ExecutionOutcome = { changed: [], refused: {}, verification: [], timings: { applyMs: 0, rolloutMs: 0, verifyMs: 0 } }
  const audit = (c: WorkloadChange, result: 'started' | 'ok' | 'failed', detail?: string): Promise<void> =>
    ctx.audit.append({
      runId: ctx.runId,
      environment: ctx.envName,
      action: `rollback.${c.action}`,
      step: c.service,
      params: { kind: c.kind, namespace: c.namespace, fromRevision: c.fromRevision, toRevision: c.toRevision, before: c.before, after: c.after },
      result,
      detail: detail === undefined ? undefined : redact(detail),
    })

  const t0 = Date.now()
  for (const c of todo) await audit(c, 'started')
  const applied = await Promise.allSettled(todo.map((c) => applyChange(ctx, c)))
  outcome.timings.applyMs = Date.now() - t0
  const done: WorkloadChange[] = []
  for (const [i, c] of todo.entries()) {
    const a = applied[i]!
    if (a.status === 'fulfilled') {
      done.push(c)
      outcome.changed.push(c.service)
      ctx.log(`${c.service}: ${Object.values(c.before).join(', ')} -> ${Object.values(c.after).join(', ')}`)
    } else {
      outcome.refused[c.service] = redact(errorMessage(a.reason))
      await audit(c, 'failed', outcome.refused[c.service])
    }
  }

  const t1 = Date.now()
  try {
    const rolling = done.filter((c) => c.kind === 'Deployment').map((c) => c.service)
    await waitForRollouts(ctx.clients.kube, {
      namespace: done[0]?.namespace ?? ctx.env.namespace,
      deployments: rolling,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      log: (line) => ctx.log(line),
    })
  } catch (err) {
    outcome.timings.rolloutMs = Date.now() - t1
    for (const c of done) await audit(c, 'failed', errorMessage(err))
    if (err instanceof InterruptedError || opts.signal.aborted) throw err
    outcome.rolloutError = redact(errorMessage(err))
    return outcome
  }
  outcome.timings.rolloutMs = Date.now() - t1

  const t2 = Date.now()
  outcome.verification = await verifyWorkloads(
    ctx,
    done[0]?.namespace ?? ctx.env.namespace,
    done.map((c) => ({ service: c.service, kind: c.kind, expected: c.after })),
  )
  outcome.timings.verifyMs = Date.now() - t2
  for (const v of outcome.verification)
    await audit(
      done.find((c) => c.service === v.service)!,
      v.ok ? 'ok' : 'failed',
      v.detail,
    )
  return outcome
}
