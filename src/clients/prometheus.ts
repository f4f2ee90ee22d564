import type { HttpClient } from './http.js'

/** One labelled series of an instant query: its value, or NaN when Prometheus says "NaN" (0/0). */
export interface InstantSample {
  labels: Record<string, string>
  value: number
}

/** One labelled series of a range query: [unix seconds, value] pairs. */
export interface RangeSeries {
  labels: Record<string, string>
  points: [number, number][]
}

/** Prometheus answered, but with an error (bad PromQL, timeout on its side): its own words. */
export class PrometheusError extends Error {}

interface ApiAnswer<T> {
  status: 'success' | 'error'
  data?: { resultType: string; result: T[] }
  errorType?: string
  error?: string
}

/**
 * The HTTP API of Prometheus (/api/v1/query, /api/v1/query_range) over the project's one HTTP
 * client. Thin on purpose: PromQL lives with the check that asks the question.
 */
export class PrometheusClient {
  constructor(
    private readonly http: HttpClient,
    readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  private async get<T>(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<T[]> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}?${new URLSearchParams(params).toString()}`
    const res = await this.http.request({ url, timeoutMs: this.timeoutMs, signal })
    let body: ApiAnswer<T>
    try {
      body = JSON.parse(res.body) as ApiAnswer<T>
    } catch {
      throw new PrometheusError(`${this.baseUrl} answered HTTP ${res.status} without JSON`)
    }
    if (body.status !== 'success' || !body.data) throw new PrometheusError(`Prometheus ${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? 'no data'}`)
    return body.data.result
  }

  async query(expr: string, o: { time?: number; signal?: AbortSignal } = {}): Promise<InstantSample[]> {
    const rows = await this.get<{ metric: Record<string, string>; value: [number, string] }>(
      '/api/v1/query',
      { query: expr, ...(o.time ? { time: String(o.time) } : {}) },
      o.signal,
    )
    return rows.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }))
  }

  async queryRange(expr: string, o: { start: number; end: number; stepSeconds: number; signal?: AbortSignal }): Promise<RangeSeries[]> {
    const rows = await this.get<{ metric: Record<string, string>; values: [number, string][] }>(
      '/api/v1/query_range',
      { query: expr, start: String(o.start), end: String(o.end), step: String(o.stepSeconds) },
      o.signal,
    )
    return rows.map((r) => ({ labels: r.metric, points: r.values.map(([t, v]) => [t, Number(v)] as [number, number]) }))
  }
}
