import { z } from 'zod'
import { provedOnNow, staleBecause, type ProvedOn } from './proved-on.js'
import { apiBaseUrl } from '../../checks/http.js'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { DEFAULT_THRESHOLDS, measureLoad, regressions, summarize, type LoadResult } from '../../load/baseline.js'

const params = z
  .object({
    path: z.string().startsWith('/').default('/health'),
    connections: z.number().int().min(1).max(1000).default(10),
    durationSeconds: z.number().int().min(1).max(3600).default(60),
    /** Fail the step on a regression (default: report it as a warning and keep the old baseline). */
    failOnRegression: z.boolean().default(false),
    /** Measure again even when this release already has a baseline. */
    always: z.boolean().default(false),
  })
  .strict()
type Params = z.infer<typeof params>

/** state.baseline: the accepted reference and the latest measurement. */
export interface BaselineState {
  baseline?: LoadResult
  last?: LoadResult
  regressions?: string[]
  /** The environment the last measurement ran on (release, AWS account, cluster). */
  provedOn?: ProvedOn
}

export function baselineState(ctx: Context): BaselineState {
  return (ctx.state.state.baseline ?? {}) as BaselineState
}

/**
 * Plan 8.6: record p50/p95/p99, requests per second and error rate. A later run (a new release,
 * or `always`) is compared with the saved baseline: a regression is reported and does not
 * become the new reference; a clean run does.
 */
export const loadBaseline: Step<Params> = {
  id: 'load.baseline',
  title: 'Performance baseline (load test)',
  description:
    'Plan 8.6: autocannon against GET /health (10 connections, 60 s by default); p50/p95/p99, req/s and error rate saved in state and compared with the previous baseline.',
  danger: 'read',
  params,
  retries: 0,
  timeoutMs: 2 * 60 * 60_000,
  async plan(ctx, p) {
    const b = baselineState(ctx).baseline
    return [
      `autocannon GET ${apiBaseUrl(ctx.env)}${p.path} with ${p.connections} connections for ${p.durationSeconds} s`,
      b ? `compare with the baseline of ${b.release} (${b.at}): ${summarize(b)}` : 'no baseline yet: this run becomes the baseline',
    ]
  },
  async check(ctx, p) {
    const b = baselineState(ctx).baseline
    const stale = b?.release === ctx.env.release ? staleBecause(baselineState(ctx).provedOn, await provedOnNow(ctx)) : undefined
    if (!p.always && b?.release === ctx.env.release && !stale) return { status: 'done', detail: `baseline for ${b.release}: ${summarize(b)}` }
    if (b?.release === ctx.env.release) return { status: 'todo', detail: `the baseline no longer counts: ${stale}; measuring again` }
    return { status: 'todo', detail: b ? `baseline is from ${b.release}; measuring ${ctx.env.release}` : 'no baseline yet' }
  },
  async run(ctx, p) {
    const current = await measureLoad(ctx, { url: `${apiBaseUrl(ctx.env)}${p.path}`, connections: p.connections, durationSeconds: p.durationSeconds })
    const previous = baselineState(ctx).baseline
    const found = previous ? regressions(previous, current, DEFAULT_THRESHOLDS) : []
    const provedOn = await provedOnNow(ctx)
    ctx.state.state.baseline = { baseline: found.length ? previous : current, last: current, regressions: found, provedOn } satisfies BaselineState
    await ctx.state.save()
    ctx.log(summarize(current))
    for (const r of found) ctx.warn(`load regression: ${r}`)
    if (found.length && p.failOnRegression)
      throw new StepFailedError(
        `performance regressed against the ${previous!.release} baseline: ${found.join('; ')}`,
        'investigate before go-live, or re-run without failOnRegression',
      )
    return { ...current, regressions: found, provedOn }
  },
}
