import { z } from 'zod'
import { provedOnNow } from './proved-on.js'
import { runVerify, type VerifyResult } from '../../engine/verify.js'
import { StepFailedError } from '../../engine/errors.js'
import { verifyChecks } from '../../checks/verify.js'
import type { Step } from '../../engine/types.js'

const params = z
  .object({
    deadlineSeconds: z.number().int().min(1).default(60),
    /** Warnings (certificate expiring in < 30 days, no HPA metrics...) fail the step too. */
    strict: z.boolean().default(false),
  })
  .strict()
type Params = z.infer<typeof params>

function problems(r: VerifyResult, strict: boolean): string[] {
  return r.checks.filter((c) => c.status === 'fail' || (strict && c.status === 'warn')).map((c) => `${c.title}: ${c.detail}`)
}

/**
 * Plan 8.1-8.4 as one read-only step: everything `autolytiq verify` checks. check() runs the
 * checks, so a healthy platform is "done" without anything being run twice.
 */
export const verifyAll: Step<Params> = {
  id: 'verify.all',
  title: 'Verify every layer (health, TLS, DNS, Kubernetes, data stores, monitoring)',
  description:
    'Plan 8.1-8.4: health through the API, TLS, redirect, DNS, Kubernetes workloads, RDS and SELECT 1, Redis PING, Prometheus and Alertmanager — concurrently.',
  danger: 'read',
  params,
  retries: 0,
  async plan(ctx) {
    return verifyChecks(ctx).map((c) => `[${c.layer}] ${c.title} (timeout ${c.timeoutMs} ms)`)
  },
  async check(ctx, p) {
    const r = await runVerify(ctx, { deadlineMs: p.deadlineSeconds * 1000 })
    for (const c of r.checks.filter((x) => x.status === 'warn')) ctx.warn(`${c.id}: ${c.detail}`)
    const bad = problems(r, p.strict)
    if (bad.length) return { status: 'todo', detail: bad.join('; ') }
    return {
      status: 'done',
      detail: `${r.checks.length} checks passed in ${r.durationMs} ms`,
      outputs: { at: r.startedAt, result: r.result, checks: r.checks.length, provedOn: await provedOnNow(ctx) },
    }
  },
  async run(ctx, p) {
    // Reached only when check() found problems: look once more (a pod may have just recovered).
    const r = await runVerify(ctx, { deadlineMs: p.deadlineSeconds * 1000 })
    const bad = problems(r, p.strict)
    if (bad.length)
      throw new StepFailedError(`${bad.length} check(s) failed: ${bad.join('; ')}`, `see \`autolytiq verify --env ${ctx.envName}\` for the full report`)
    return { at: r.startedAt, result: r.result, checks: r.checks.length, provedOn: await provedOnNow(ctx) }
  },
}
