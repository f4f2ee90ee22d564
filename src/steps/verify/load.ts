import { z } from 'zod'
import { provedOnNow, staleBecause, type ProvedOn } from './proved-on.js'
import { apiBaseUrl } from '../../checks/http.js'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { DEFAULT_THRESHOLDS, measureLoad, regressions, summarize, type LoadResult } from '../../load/baseline.js'
import { latestScrape, windowSignals, type Signals } from '../../traffic/golden-signals.js'
import { errorMessage } from '../../engine/errors.js'

const params = z
  .object({
    path: z.string().startsWith('/').default('/health'),
    connections: z.number().int().min(1).max(1000).default(10),
    durationSeconds: z.number().int().min(1).max(3600).default(60),
    /** Fail the step on a regression (default: report it as a warning and keep the old baseline). */
    failOnRegression: z.boolean().default(false),
    /** Measure again even when this release already has a baseline. */
    always: z.boolean().default(false),
    /**
     * Spread the load over every catalog Deployment's health path too (through the same entry
     * point), so each service has its own go-live reference in Prometheus.
     */
    perService: z.boolean().default(true),
  })
  .strict()
type Params = z.infer<typeof params>

/** state.baseline: the accepted reference and the latest measurement. */
export interface BaselineState {
  baseline?: LoadResult
  last?: LoadResult
  regressions?: string[]
  /** Each catalog service's own signals over the accepted load test's window, from Prometheus (what verify's traffic layer compares with). */
  services?: Record<string, Signals>
  /** The same for the latest measurement, and the window both were read over. */
  lastServices?: Record<string, Signals>
  servicesWindow?: { from: string; to: string; note?: string }
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
    "Plan 8.6: autocannon against GET /health and every service's health path through the entry point (10 connections, 60 s by default); p50/p95/p99, req/s and error rate saved in state and compared with the previous baseline; each service's own rate, 5xx ratio, p95 and p99 over the load window read from Prometheus (verify's traffic baseline).",
  danger: 'read',
  params,
  retries: 0,
  timeoutMs: 2 * 60 * 60_000,
  async plan(ctx, p) {
    const b = baselineState(ctx).baseline
    const more = p.perService ? servicePaths(ctx, p) : []
    return [
      `autocannon GET ${apiBaseUrl(ctx.env)}${p.path}${more.length ? ` and ${more.length} service health paths` : ''} with ${p.connections} connections for ${p.durationSeconds} s`,
      ctx.env.prometheusUrl
        ? `Prometheus ${ctx.env.prometheusUrl}: each service's rate, 5xx ratio, p95, p99 over the load window`
        : 'no prometheusUrl: no per-service baselines (verify compares services with the platform figures)',
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
    const startedAt = Date.now()
    const current = await measureLoad(ctx, {
      url: `${apiBaseUrl(ctx.env)}${p.path}`,
      morePaths: p.perService ? servicePaths(ctx, p) : [],
      connections: p.connections,
      durationSeconds: p.durationSeconds,
    })
    const perService = await serviceSignals(ctx, startedAt, Date.parse(current.at))
    const before = baselineState(ctx)
    const previous = before.baseline
    const found = previous ? regressions(previous, current, DEFAULT_THRESHOLDS) : []
    const provedOn = await provedOnNow(ctx)
    const keepOld = found.length > 0
    ctx.state.state.baseline = {
      baseline: keepOld ? previous : current,
      last: current,
      regressions: found,
      provedOn,
      services: keepOld ? before.services : perService.services,
      lastServices: perService.services,
      servicesWindow: perService.window,
    } satisfies BaselineState
    await ctx.state.save()
    ctx.log(summarize(current))
    ctx.log(perService.summary)
    for (const r of found) ctx.warn(`load regression: ${r}`)
    if (found.length && p.failOnRegression)
      throw new StepFailedError(
        `performance regressed against the ${previous!.release} baseline: ${found.join('; ')}`,
        'investigate before go-live, or re-run without failOnRegression',
      )
    return { ...current, regressions: found, provedOn, services: perService.services }
  },
}

/** Every catalog Deployment's health path other than the platform path itself. */
function servicePaths(ctx: Context, p: Params): string[] {
  return [...new Set(ctx.catalog.deployments.map((s) => s.healthPath).filter((h): h is string => Boolean(h) && h !== p.path))]
}

/**
 * Each catalog service's signals over the load window, from Prometheus: the load test's requests
 * plus whatever real traffic there was, as verify's traffic layer will see it later. Waits (up to a
 * minute) for a scrape after the load ended, so the window's last requests are counted. Without
 * Prometheus, or when it cannot be read, nothing per service is recorded and the output says so.
 */
async function serviceSignals(
  ctx: Context,
  startedAt: number,
  endedAt: number,
): Promise<{ services?: Record<string, Signals>; window?: BaselineState['servicesWindow']; summary: string }> {
  const prometheusUrl = ctx.env.prometheusUrl
  if (!prometheusUrl) return { summary: 'per-service baselines: none (prometheusUrl is not set; verify compares services with the platform figures)' }
  const timeoutMs = 10_000
  try {
    const deadline = Date.now() + 60_000
    let scraped = await latestScrape(ctx, { prometheusUrl, timeoutMs, signal: ctx.signal })
    while (scraped * 1000 < endedAt && Date.now() < deadline && !ctx.signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000))
      scraped = await latestScrape(ctx, { prometheusUrl, timeoutMs, signal: ctx.signal })
    }
    const time = Math.max(Math.floor(endedAt / 1000), Math.floor(scraped))
    const rangeSeconds = Math.max(1, Math.ceil(time - startedAt / 1000))
    const signals = await windowSignals(ctx, { prometheusUrl, rangeSeconds, time, timeoutMs, signal: ctx.signal })
    const services: Record<string, Signals> = {}
    const idle: string[] = []
    for (const s of ctx.catalog.deployments) {
      const own = signals.get(s.name)
      if (own && own.rate > 0 && own.errorRatio !== undefined) services[s.name] = own
      else idle.push(s.name)
    }
    const window = {
      from: new Date(startedAt).toISOString(),
      to: new Date(time * 1000).toISOString(),
      ...(idle.length ? { note: `no requests in Prometheus for ${idle.join(', ')}: verify compares them with the platform figures` } : {}),
    }
    const n = Object.keys(services).length
    return {
      services,
      window,
      summary: `per-service baselines from Prometheus: ${n} of ${ctx.catalog.deployments.length} services${idle.length ? ` (none for ${idle.join(', ')})` : ''}`,
    }
  } catch (err) {
    const why = errorMessage(err)
    ctx.warn(`per-service baselines not recorded: Prometheus at ${prometheusUrl} could not be read (${why})`)
    return { summary: `per-service baselines: none (Prometheus could not be read: ${why})` }
  }
}
