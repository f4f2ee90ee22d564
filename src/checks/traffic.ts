import { setMaxListeners } from 'node:events'
import type { Service } from '../config/catalog.js'
import { formatDuration } from '../config/duration.js'
import type { Check, CheckStatus, Context } from '../engine/types.js'
import { errorMessage } from '../engine/errors.js'
import type { LoadResult } from '../load/baseline.js'
import { readSignals, type ServiceSignals, type Signals, type SignalsSnapshot, type Trend } from '../traffic/golden-signals.js'
import { describeRequestError } from './http.js'

/**
 * When traffic fails or warns. The defaults are the alert rules' (k8s/monitoring/alert-rules.yml:
 * HighErrorRate > 5 %, HighLatencyP99 > 1 s); the warning is "twice what is normal", normal being
 * the go-live baseline or the same window a day earlier. Floors keep noise from warning: a 0 %
 * baseline doubled is still 0 %.
 */
export interface TrafficThresholds {
  errorRatioFail: number
  p99FailSeconds: number
  warnFactor: number
  errorRatioWarnFloor: number
  latencyWarnFloorSeconds: number
}

export const DEFAULT_TRAFFIC_THRESHOLDS: TrafficThresholds = {
  errorRatioFail: 0.05,
  p99FailSeconds: 1,
  warnFactor: 2,
  errorRatioWarnFloor: 0.01,
  latencyWarnFloorSeconds: 0.1,
}

/** The reference a service is compared with, and where it comes from (said in the output). */
export interface TrafficBaseline {
  source: string
  rate?: number
  errorRatio?: number
  p95?: number
  p99?: number
}

/** What a traffic check hands to the renderers (JSON, sparkline, report chart). */
export interface TrafficData {
  service: string
  /** Prometheus scrapes it (so an absent request series means no requests, not no metrics). */
  scraped?: boolean
  windowSeconds: number
  now?: Signals
  dayBefore?: Signals
  baseline?: TrafficBaseline
  trend?: Trend
  thresholds: TrafficThresholds
}

/** state.baseline as load.baseline writes it: the platform measurement and, per service, Prometheus' view of that load test. */
interface BaselineRecord {
  baseline?: LoadResult
  services?: Record<string, Signals>
}

/** A service's go-live reference: its own signals during the load test, else the platform's load test figures. */
export function baselineFor(ctx: Context, service: string): TrafficBaseline | undefined {
  const rec = (ctx.state.state.baseline ?? {}) as BaselineRecord
  const own = rec.services?.[service]
  const base = rec.baseline
  if (own && own.errorRatio !== undefined)
    return {
      source: `${service}'s go-live baseline of ${base?.release ?? 'the load test'}${base ? ` (${base.at.slice(0, 16)}Z)` : ''}`,
      rate: own.rate,
      errorRatio: own.errorRatio,
      p95: own.p95,
      p99: own.p99,
    }
  if (base)
    return {
      source: `go-live load baseline of ${base.release} (platform, ${base.at.slice(0, 16)}Z)`,
      errorRatio: base.errorRate,
      p95: base.p95 / 1000,
      p99: base.p99 / 1000,
    }
  return undefined
}

export const pct = (ratio: number): string => `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`
export const ms = (seconds: number): string => `${seconds < 0.01 ? (seconds * 1000).toFixed(1) : Math.round(seconds * 1000)} ms`
const rps = (r: number): string => `${r < 10 ? r.toFixed(2) : Math.round(r)} req/s`

/** The verdict on one service's signals: fail on the alert thresholds, warn at `warnFactor` × normal. */
export function judgeTraffic(d: TrafficData): { status: CheckStatus; detail: string } {
  const t = d.thresholds
  const window = formatDuration(d.windowSeconds)
  const now = d.now
  if (!now && !d.scraped)
    return { status: 'warn', detail: `no metrics for ${d.service}: Prometheus has no target with job="${d.service}" in this namespace (is it scraped?)` }
  if (!now || !(now.rate > 0) || now.errorRatio === undefined)
    return { status: 'warn', detail: `no requests in the last ${window}: nothing to judge (idle, or traffic is not reaching ${d.service})` }
  const refs = [d.baseline, d.dayBefore && { source: 'a day earlier', ...d.dayBefore }].filter((r): r is TrafficBaseline => Boolean(r))
  const fails: string[] = []
  const warns: string[] = []
  if (now.errorRatio > t.errorRatioFail) fails.push(`5xx ${pct(now.errorRatio)} above ${pct(t.errorRatioFail)}`)
  if (now.p99 !== undefined && now.p99 > t.p99FailSeconds) fails.push(`p99 ${ms(now.p99)} above ${ms(t.p99FailSeconds)}`)
  for (const r of refs) {
    if (r.errorRatio !== undefined && now.errorRatio > Math.max(t.warnFactor * r.errorRatio, t.errorRatioWarnFloor) && now.errorRatio <= t.errorRatioFail)
      warns.push(`5xx ${pct(now.errorRatio)} is over ${t.warnFactor}× ${r.source} (${pct(r.errorRatio)})`)
    if (r.p99 !== undefined && now.p99 !== undefined && now.p99 > t.warnFactor * r.p99 && now.p99 >= t.latencyWarnFloorSeconds && now.p99 <= t.p99FailSeconds)
      warns.push(`p99 ${ms(now.p99)} is over ${t.warnFactor}× ${r.source} (${ms(r.p99)})`)
  }
  if (d.dayBefore && d.dayBefore.rate > 0.1 && now.rate < d.dayBefore.rate / t.warnFactor)
    warns.push(`traffic ${rps(now.rate)} is under 1/${t.warnFactor} of a day earlier (${rps(d.dayBefore.rate)})`)
  const vs = (key: 'errorRatio' | 'p99', fmt: (n: number) => string): string => {
    const parts = refs.filter((r) => r[key] !== undefined).map((r) => `${r.source}: ${fmt(r[key]!)}`)
    return parts.length ? ` (${parts.join('; ')})` : ''
  }
  const figures = [
    `${rps(now.rate)} over ${window}`,
    `5xx ${pct(now.errorRatio)}${vs('errorRatio', pct)}`,
    now.p95 !== undefined ? `p95 ${ms(now.p95)}` : undefined,
    now.p99 !== undefined ? `p99 ${ms(now.p99)}${vs('p99', ms)}` : undefined,
  ]
    .filter(Boolean)
    .join(', ')
  if (!refs.length) warns.push('no baseline to compare with (load.baseline has not run, and Prometheus has no data from a day earlier)')
  if (fails.length) return { status: 'fail', detail: `${fails.join('; ')} — ${figures}` }
  if (warns.length) return { status: 'warn', detail: `${warns.join('; ')} — ${figures}` }
  return { status: 'pass', detail: figures }
}

/** One read of Prometheus per verify run, shared by every service's traffic check. */
export class TrafficView {
  private snapshot?: Promise<SignalsSnapshot>

  constructor(
    private readonly ctx: Context,
    private readonly windowSeconds: number,
    private readonly timeoutMs: number,
  ) {}

  read(signal: AbortSignal): Promise<SignalsSnapshot> {
    if (!this.snapshot) {
      // Twelve concurrent queries listen on one signal: more than Node's default of 10 listeners, on purpose.
      const shared = new AbortController()
      setMaxListeners(32, shared.signal)
      signal.addEventListener('abort', () => shared.abort(signal.reason), { once: true })
      this.snapshot = readSignals(this.ctx, {
        prometheusUrl: this.ctx.env.prometheusUrl!,
        windowSeconds: this.windowSeconds,
        timeoutMs: this.timeoutMs,
        signal: shared.signal,
      })
    }
    return this.snapshot
  }
}

export interface TrafficCheckOptions {
  windowSeconds: number
  timeoutMs: number
  thresholds: TrafficThresholds
}

/** Golden signals of one service against its baseline (issue #19): /health can say 200 while users get 500s. */
export function trafficCheck(service: Service, view: TrafficView, o: TrafficCheckOptions): Check {
  return {
    id: `traffic.${service.name}`,
    title: `${service.name} traffic (rate, 5xx, p95, p99)`,
    layer: 'traffic',
    services: [service.name],
    timeoutMs: o.timeoutMs,
    async run(ctx, signal) {
      let snap: SignalsSnapshot
      try {
        snap = await view.read(signal)
      } catch (err) {
        const url = `${ctx.env.prometheusUrl}/api/v1/query`
        const why = (err as NodeJS.ErrnoException).code ? describeRequestError(err, url, o.timeoutMs) : errorMessage(err)
        return { status: 'warn', detail: `traffic not judged: Prometheus could not be read (${why})` }
      }
      const s: ServiceSignals | undefined = snap.services.get(service.name)
      const data: TrafficData = {
        service: service.name,
        scraped: s?.scraped,
        windowSeconds: o.windowSeconds,
        now: s?.now,
        dayBefore: s?.dayBefore?.rate ? s.dayBefore : undefined,
        baseline: baselineFor(ctx, service.name),
        trend: s?.trend,
        thresholds: o.thresholds,
      }
      return { ...judgeTraffic(data), data: data as unknown as Record<string, unknown> }
    },
  }
}

/** The traffic layer: one check per Deployment, or one warning when there is no Prometheus to ask. */
export function trafficChecks(ctx: Context, services: Service[], o: TrafficCheckOptions): Check[] {
  if (!ctx.env.prometheusUrl)
    return [
      {
        id: 'traffic',
        title: 'Traffic (rate, 5xx, p95, p99)',
        layer: 'traffic',
        timeoutMs: o.timeoutMs,
        run: async () => ({ status: 'warn', detail: `prometheusUrl is not set for ${ctx.envName} in autolytiq.yaml; traffic not judged` }),
      },
    ]
  const view = new TrafficView(ctx, o.windowSeconds, o.timeoutMs)
  return services.map((s) => trafficCheck(s, view, o))
}
