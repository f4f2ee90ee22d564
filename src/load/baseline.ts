import type autocannon from 'autocannon'
import { isIP } from 'node:net'
import { resolverFor } from '../checks/dns.js'
import { ExternalError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'

/** Plan 8.6's metrics, measured against one URL. Latencies in milliseconds. */
export interface LoadResult {
  url: string
  release: string
  at: string
  connections: number
  durationSeconds: number
  requests: number
  rps: number
  p50: number
  p95: number
  p99: number
  /** Non-2xx answers plus connection errors and timeouts, over all attempts. */
  errors: number
  errorRate: number
}

export interface LoadOptions {
  url: string
  /** More paths on the same origin, taken in turn with `url`'s (e.g. every service's health path). */
  morePaths?: string[]
  connections: number
  durationSeconds: number
  /** Per-request limit; a slower answer counts as an error. */
  requestTimeoutSeconds?: number
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (!sorted.length) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Math.round(sorted[i]! * 100) / 100
}

/**
 * The engineer's machine may not resolve the sandbox's names (they live on the sandbox's DNS
 * server), and autocannon resolves with the system resolver: connect to the address, keep the
 * name for SNI and the Host header.
 */
async function target(ctx: Context, url: URL): Promise<{ connectUrl: string; servername?: string; host?: string }> {
  if (isIP(url.hostname) || !ctx.env.dnsServers?.length) return { connectUrl: url.toString() }
  const [address] = await resolverFor(ctx, 5000).resolve4(url.hostname)
  if (!address) throw new ExternalError(`${url.hostname} does not resolve via ${ctx.env.dnsServers.join(', ')}`)
  const connect = new URL(url)
  connect.hostname = address
  return { connectUrl: connect.toString(), servername: url.hostname, host: url.host }
}

/** Plan 8.6 with autocannon as a library (k6 is not available here): 10 connections for 60 s by default. */
export async function measureLoad(ctx: Context, o: LoadOptions): Promise<LoadResult> {
  const url = new URL(o.url)
  const t = await target(ctx, url)
  const { default: run } = await import('autocannon')
  const samples: number[] = []
  let non2xx = 0
  let finish!: (r: { err?: unknown; result?: autocannon.Result }) => void
  const done = new Promise<{ err?: unknown; result?: autocannon.Result }>((resolve) => (finish = resolve))
  const instance = run(
    {
      url: t.connectUrl,
      connections: o.connections,
      duration: o.durationSeconds,
      timeout: o.requestTimeoutSeconds ?? 10,
      servername: t.servername,
      ...(o.morePaths?.length ? { requests: [url.pathname, ...o.morePaths].map((path) => ({ method: 'GET' as const, path })) } : {}),
      // autocannon does not verify certificates; judging them is the TLS check's job.
      headers: t.host ? { host: t.host } : {},
    },
    (err: unknown, result: autocannon.Result) => finish({ err, result }),
  )
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    samples.push(ms)
    if (status < 200 || status >= 300) non2xx++
  })
  const stop = (): void => instance.stop()
  ctx.signal.addEventListener('abort', stop, { once: true })
  let elapsed = 0
  const progress = setInterval(() => ctx.log(`load: ${++elapsed}/${o.durationSeconds} s, ${samples.length} responses`), 1000)
  const outcome = await done
  clearInterval(progress)
  ctx.signal.removeEventListener('abort', stop)
  if (outcome.err || !outcome.result) throw new ExternalError(`load test against ${o.url} failed: ${String(outcome.err)}`)
  const result = outcome.result
  const sorted = Float64Array.from(samples).sort()
  const errors = non2xx + result.errors
  const attempts = samples.length + result.errors
  return {
    url: o.url,
    release: ctx.env.release,
    at: new Date().toISOString(),
    connections: o.connections,
    durationSeconds: result.duration,
    requests: samples.length,
    rps: Math.round((samples.length / Math.max(result.duration, 0.001)) * 10) / 10,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    errors,
    errorRate: attempts ? Math.round((errors / attempts) * 10_000) / 10_000 : 1,
  }
}

export interface RegressionThresholds {
  /** Relative latency growth tolerated (0.2 = +20%)… */
  latency: number
  /** …unless the growth is below this many ms (sub-millisecond noise is not a regression). */
  latencyFloorMs: number
  /** Relative throughput drop tolerated. */
  throughput: number
  /** Absolute error-rate growth tolerated (0.01 = one percentage point). */
  errorRate: number
}

export const DEFAULT_THRESHOLDS: RegressionThresholds = { latency: 0.2, latencyFloorMs: 5, throughput: 0.2, errorRate: 0.01 }

const pct = (now: number, was: number): string => `${now >= was ? '+' : ''}${Math.round(((now - was) / (was || 1)) * 100)}%`

/** What got worse than the saved baseline, one sentence each. */
export function regressions(base: LoadResult, now: LoadResult, t: RegressionThresholds = DEFAULT_THRESHOLDS): string[] {
  const out: string[] = []
  for (const k of ['p50', 'p95', 'p99'] as const) {
    if (now[k] > base[k] * (1 + t.latency) && now[k] - base[k] >= t.latencyFloorMs)
      out.push(`${k} latency ${now[k]} ms vs baseline ${base[k]} ms (${pct(now[k], base[k])})`)
  }
  if (now.rps < base.rps * (1 - t.throughput)) out.push(`throughput ${now.rps} req/s vs baseline ${base.rps} req/s (${pct(now.rps, base.rps)})`)
  if (now.errorRate > base.errorRate + t.errorRate)
    out.push(`error rate ${(now.errorRate * 100).toFixed(2)}% vs baseline ${(base.errorRate * 100).toFixed(2)}%`)
  return out
}

export function summarize(r: LoadResult): string {
  return `p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms, ${r.rps} req/s, errors ${(r.errorRate * 100).toFixed(2)}% (${r.requests} requests, ${r.connections} connections, ${r.durationSeconds} s)`
}
