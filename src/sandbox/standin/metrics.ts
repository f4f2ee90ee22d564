/**
 * The Prometheus metrics every Autolytiq service exposes (plan 7.7: http_requests_total,
 * http_request_duration_seconds), in the text exposition format, without a client library.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

interface Histogram {
  labels: string
  count: number
  sum: number
  buckets: number[]
}

const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
    .join(',')

export class HttpMetrics {
  private readonly counts = new Map<string, number>()
  private readonly durations = new Map<string, Histogram>()
  private readonly started = Date.now() / 1000

  constructor(private readonly service: string) {}

  /** `route` is the route template ('/api/v1/deals/:id'), never the raw path: bounded cardinality. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const base = { service: this.service, method, route }
    const countKey = labelText({ ...base, status: String(status) })
    this.counts.set(countKey, (this.counts.get(countKey) ?? 0) + 1)
    const histKey = labelText(base)
    let h = this.durations.get(histKey)
    if (!h) {
      h = { labels: histKey, count: 0, sum: 0, buckets: BUCKETS.map(() => 0) }
      this.durations.set(histKey, h)
    }
    h.count++
    h.sum += seconds
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]!++
    })
  }

  render(): string {
    const lines = [
      '# HELP up Whether the service is up.',
      '# TYPE up gauge',
      `up{service="${this.service}"} 1`,
      '# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${this.started.toFixed(3)}`,
      '# HELP http_requests_total HTTP requests served.',
      '# TYPE http_requests_total counter',
    ]
    for (const [labels, n] of this.counts) lines.push(`http_requests_total{${labels}} ${n}`)
    lines.push('# HELP http_request_duration_seconds HTTP request latency.', '# TYPE http_request_duration_seconds histogram')
    for (const h of this.durations.values()) {
      BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{${h.labels},le="${le}"} ${h.buckets[i]}`))
      lines.push(`http_request_duration_seconds_bucket{${h.labels},le="+Inf"} ${h.count}`)
      lines.push(`http_request_duration_seconds_sum{${h.labels}} ${h.sum}`)
      lines.push(`http_request_duration_seconds_count{${h.labels}} ${h.count}`)
    }
    return lines.join('\n') + '\n'
  }
}
