import { z } from 'zod'
import { provedOnNow } from './proved-on.js'
import { runVerify, type VerifyResult } from '../../engine/verify.js'
import { StepFailedError } from '../../engine/errors.js'
import { untilSettled, type Failing } from '../../engine/verify-retry.js'
import { verifyChecks } from '../../checks/verify.js'
import { runChecks, type CheckReport } from '../../checks/run.js'
import type { HpaMetricsVerdict } from '../../checks/hpa-metrics.js'
import type { Context, Step } from '../../engine/types.js'

const params = z
  .object({
    deadlineSeconds: z.number().int().min(1).default(60),
    /** Warnings (certificate expiring in < 30 days, no HPA metrics...) fail the step too. */
    strict: z.boolean().default(false),
    /** Right after a deploy pods become ready and targets get scraped: look this many times before failing. */
    attempts: z.number().int().min(1).max(20).default(4),
    intervalSeconds: z.number().int().min(1).max(300).default(15),
  })
  .strict()
type Params = z.infer<typeof params>

function failing(r: VerifyResult, strict: boolean): Failing[] {
  return r.checks.filter((c) => c.status === 'fail' || (strict && c.status === 'warn')).map((c) => ({ id: c.id, text: `${c.title}: ${c.detail}` }))
}
const problems = (r: VerifyResult, strict: boolean): string[] => failing(r, strict).map((f) => f.text)

const hpaVerdicts = (r: CheckReport | undefined): HpaMetricsVerdict[] => (r?.data?.hpas as HpaMetricsVerdict[] | undefined) ?? []
const notYet = (r: CheckReport | undefined): HpaMetricsVerdict[] => hpaVerdicts(r).filter((v) => v.verdict === 'not-yet')

/**
 * New HPAs get their first metrics within a bounded grace (src/checks/hpa-metrics.ts). Rather than
 * report "no metrics yet" and leave the next `verify` to say otherwise, the deploy looks again
 * (k8s.hpa alone) until none is "not yet" or the last one is due; the verdict is the check's.
 */
export async function settleHpaMetrics(ctx: Context, r: VerifyResult, pollMs = 5_000): Promise<VerifyResult> {
  const i = r.checks.findIndex((c) => c.id === 'k8s.hpa')
  if (i < 0 || !notYet(r.checks[i]).length) return r
  let report = r.checks[i]!
  while (notYet(report).length) {
    const due = Math.max(...notYet(report).map((v) => (v.verdict === 'not-yet' ? Date.parse(v.dueAt) : 0)))
    ctx.log(`k8s.hpa: ${notYet(report).length} HPA(s) have no metrics yet; looking again (the last is due by ${new Date(due).toISOString().slice(11, 19)} UTC)`)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => (clearTimeout(t), reject(ctx.signal.reason))
      const t = setTimeout(() => (ctx.signal.removeEventListener('abort', onAbort), resolve()), Math.max(0, Math.min(pollMs, due - Date.now() + 1_000)))
      ctx.signal.addEventListener('abort', onAbort, { once: true })
    })
    // A new check each round: its Kubernetes view caches what it read.
    report = (
      await runChecks(
        ctx,
        verifyChecks(ctx).filter((c) => c.id === 'k8s.hpa'),
      )
    )[0]!
  }
  const checks = r.checks.map((c, j) => (j === i ? report : c))
  return { ...r, checks, result: checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'pass' }
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
    const bad = problems(r, p.strict)
    if (bad.length) return { status: 'todo', detail: bad.join('; ') }
    // New HPAs: run() waits for their first metrics, so the report states the settled verdict.
    const young = notYet(r.checks.find((c) => c.id === 'k8s.hpa'))
    if (young.length) return { status: 'todo', detail: `${young.length} HPA(s) have no metrics yet: ${young.map((v) => v.hpa).join(', ')}` }
    for (const c of r.checks.filter((x) => x.status === 'warn')) ctx.warn(`${c.id}: ${c.detail}`)
    return {
      status: 'done',
      detail: `${r.checks.length} checks passed in ${r.durationMs} ms`,
      outputs: { at: r.startedAt, result: r.result, checks: r.checks.length, provedOn: await provedOnNow(ctx) },
    }
  },
  async run(ctx, p) {
    // Reached only when check() found problems: right after a deploy the platform may still be
    // converging, so look again a few times; the same failures twice in a row mean it is broken.
    const t0 = Date.now()
    const s = await untilSettled(() => runVerify(ctx, { deadlineMs: p.deadlineSeconds * 1000 }), {
      attempts: p.attempts,
      intervalMs: p.intervalSeconds * 1000,
      failing: (r) => failing(r, p.strict),
      signal: ctx.signal,
      log: ctx.log,
    })
    if (s.verdict !== 'pass') {
      const secs = Math.round((Date.now() - t0) / 1000)
      const what = s.failing.map((f) => f.text).join('; ')
      const next = `see \`autolytiq verify --env ${ctx.envName}\` for the full report`
      if (s.verdict === 'broken')
        throw new StepFailedError(
          `broken: ${s.failing.length} check(s) failed the same way on ${s.attempts > 1 ? 'consecutive attempts' : 'the only attempt'} (${secs} s): ${what}`,
          next,
        )
      throw new StepFailedError(
        `still converging after ${s.attempts} attempts over ${secs} s, ${s.failing.length} check(s) failing: ${what}`,
        `${next}; re-run \`autolytiq deploy --env ${ctx.envName} --from verify.all\` to look again`,
      )
    }
    const r = await settleHpaMetrics(ctx, s.result)
    for (const c of r.checks.filter((x) => x.status === 'warn')) ctx.warn(`${c.id}: ${c.detail}`)
    if (problems(r, p.strict).length)
      throw new StepFailedError(problems(r, p.strict).join('; '), `see \`autolytiq verify --env ${ctx.envName}\` for the full report`)
    return { at: r.startedAt, result: r.result, checks: r.checks.length, attempts: s.attempts, provedOn: await provedOnNow(ctx) }
  },
}
