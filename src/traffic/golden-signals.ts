import { PrometheusClient, type InstantSample, type RangeSeries } from '../clients/prometheus.js'
import { formatDuration } from '../config/duration.js'
import type { Context } from '../engine/types.js'

/**
 * The golden signals of every service, from the metrics each one exports (plan 7.7:
 * http_requests_total{status}, http_request_duration_seconds) and with the labels the alert
 * rules use (k8s/monitoring/alert-rules.yml: `job` per service, `namespace`).
 */
export interface Signals {
  /** Requests per second over the window. */
  rate: number
  /** Share of 5xx answers, 0..1; undefined without requests. */
  errorRatio?: number
  /** Latency quantiles in seconds; undefined without requests. */
  p95?: number
  p99?: number
}

export interface Trend {
  /** Unix seconds of each point. */
  at: number[]
  rate: (number | null)[]
  errorRatio: (number | null)[]
  p99: (number | null)[]
}

export interface ServiceSignals {
  /** Prometheus scrapes the service (an `up` series exists): no request series then means no requests yet. */
  scraped: boolean
  /** This window; undefined when Prometheus holds no request series at all for the service. */
  now?: Signals
  /** The same window one day earlier, where Prometheus keeps that much history. */
  dayBefore?: Signals
  trend: Trend
}

export interface SignalsSnapshot {
  windowSeconds: number
  at: number
  services: Map<string, ServiceSignals>
}

/** Points in a trend line: enough for a sparkline and a small chart, few enough to stay cheap. */
export const TREND_POINTS = 12

const selector = (ns: string, extra = ''): string => `namespace="${ns.replace(/"/g, '\\"')}"${extra}`

/** The PromQL of each signal, summed per job, over `range` (with an optional offset). */
function expressions(ns: string, range: string, offset = ''): { rate: string; errors: string; p95: string; p99: string } {
  const o = offset ? ` offset ${offset}` : ''
  const buckets = `sum by (job, le) (rate(http_request_duration_seconds_bucket{${selector(ns)}}[${range}]${o}))`
  return {
    rate: `sum by (job) (rate(http_requests_total{${selector(ns)}}[${range}]${o}))`,
    errors: `sum by (job) (rate(http_requests_total{${selector(ns, ',status=~"5.."')}}[${range}]${o}))`,
    p95: `histogram_quantile(0.95, ${buckets})`,
    p99: `histogram_quantile(0.99, ${buckets})`,
  }
}

const byJob = (rows: InstantSample[]): Map<string, number> => new Map(rows.map((r) => [r.labels.job ?? '', r.value]))
const finite = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined)

function signalsOf(
  job: string,
  rate: Map<string, number>,
  errors: Map<string, number>,
  p95: Map<string, number>,
  p99: Map<string, number>,
): Signals | undefined {
  if (!rate.has(job)) return undefined
  const r = rate.get(job) ?? 0
  return {
    rate: r,
    errorRatio: r > 0 ? (errors.get(job) ?? 0) / r : undefined,
    p95: r > 0 ? finite(p95.get(job)) : undefined,
    p99: r > 0 ? finite(p99.get(job)) : undefined,
  }
}

function trendOf(job: string, start: number, step: number, rate: RangeSeries[], errors: RangeSeries[], p99: RangeSeries[]): Trend {
  const at = Array.from({ length: TREND_POINTS + 1 }, (_, i) => start + i * step)
  const pick = (series: RangeSeries[]): Map<number, number> => new Map(series.find((s) => s.labels.job === job)?.points ?? [])
  const r = pick(rate)
  const e = pick(errors)
  const q = pick(p99)
  return {
    at,
    rate: at.map((t) => finite(r.get(t)) ?? null),
    errorRatio: at.map((t) => {
      const total = r.get(t)
      return total && total > 0 ? (e.get(t) ?? 0) / total : null
    }),
    p99: at.map((t) => finite(q.get(t)) ?? null),
  }
}

/**
 * Every job's signals over one past window ending at `time` (unix seconds): 4 instant queries.
 * load.baseline records each service's own go-live reference with it.
 */
export async function windowSignals(
  ctx: Context,
  o: { prometheusUrl: string; rangeSeconds: number; time: number; timeoutMs: number; signal?: AbortSignal },
): Promise<Map<string, Signals>> {
  const prom = new PrometheusClient(ctx.clients.http, o.prometheusUrl, o.timeoutMs)
  const e = expressions(ctx.env.namespace, formatDuration(o.rangeSeconds))
  const q = (expr: string): Promise<Map<string, number>> => prom.query(expr, { time: o.time, signal: o.signal }).then(byJob)
  const [rate, errors, p95, p99] = await Promise.all([q(e.rate), q(e.errors), q(e.p95), q(e.p99)])
  const out = new Map<string, Signals>()
  for (const job of rate.keys()) out.set(job, signalsOf(job, rate, errors, p95, p99)!)
  return out
}

/** Unix seconds of the newest sample Prometheus holds for the namespace's targets (0 when none). */
export async function latestScrape(ctx: Context, o: { prometheusUrl: string; timeoutMs: number; signal?: AbortSignal }): Promise<number> {
  const prom = new PrometheusClient(ctx.clients.http, o.prometheusUrl, o.timeoutMs)
  const [row] = await prom.query(`max(timestamp(up{${selector(ctx.env.namespace)}}))`, { signal: o.signal })
  return row && Number.isFinite(row.value) ? row.value : 0
}

/**
 * Every service's signals in one go: 9 instant queries and 3 range queries for the whole
 * platform, whatever the number of services, run concurrently.
 */
export async function readSignals(
  ctx: Context,
  o: { prometheusUrl: string; windowSeconds: number; timeoutMs: number; signal?: AbortSignal },
): Promise<SignalsSnapshot> {
  const prom = new PrometheusClient(ctx.clients.http, o.prometheusUrl, o.timeoutMs)
  const ns = ctx.env.namespace
  const range = formatDuration(o.windowSeconds)
  const now = Math.floor(Date.now() / 1000)
  const step = Math.max(1, Math.floor(o.windowSeconds / TREND_POINTS))
  const start = now - step * TREND_POINTS
  // Each trend point is a rate over its own step, but never over less than 15 s: a rate needs two scrapes.
  const pointRange = formatDuration(Math.max(15, step))
  const cur = expressions(ns, range)
  const prev = expressions(ns, range, '1d')
  const pt = expressions(ns, pointRange)
  const q = (expr: string): Promise<Map<string, number>> => prom.query(expr, { time: now, signal: o.signal }).then(byJob)
  const qr = (expr: string): Promise<RangeSeries[]> => prom.queryRange(expr, { start, end: now, stepSeconds: step, signal: o.signal })
  const [up, rate, errors, p95, p99, rateY, errorsY, p95Y, p99Y, trendRate, trendErrors, trendP99] = await Promise.all([
    q(`max by (job) (up{${selector(ns)}})`),
    q(cur.rate),
    q(cur.errors),
    q(cur.p95),
    q(cur.p99),
    q(prev.rate),
    q(prev.errors),
    q(prev.p95),
    q(prev.p99),
    qr(pt.rate),
    qr(pt.errors),
    qr(pt.p99),
  ])
  const jobs = new Set([...up.keys(), ...rate.keys(), ...rateY.keys()])
  const services = new Map<string, ServiceSignals>()
  for (const job of jobs)
    services.set(job, {
      scraped: up.has(job),
      now: signalsOf(job, rate, errors, p95, p99),
      dayBefore: signalsOf(job, rateY, errorsY, p95Y, p99Y),
      trend: trendOf(job, start, step, trendRate, trendErrors, trendP99),
    })
  return { windowSeconds: o.windowSeconds, at: now, services }
}
