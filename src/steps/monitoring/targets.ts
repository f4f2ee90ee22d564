import { z } from 'zod'
import { ExternalError, StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { monitoringBase, monitoringRequest } from '../../checks/monitoring-endpoint.js'

const params = z
  .object({
    /** Services whose targets must be up; default every catalog Deployment. */
    services: z.array(z.string()).optional(),
    timeoutSeconds: z.number().int().min(1).max(3600).default(180),
  })
  .strict()
type Params = z.infer<typeof params>

interface ActiveTarget {
  labels: Record<string, string>
  scrapeUrl: string
  health: 'up' | 'down' | 'unknown'
  lastError: string
}

export interface TargetReport {
  service: string
  up: number
  total: number
  /** lastError of a target that is not up */
  error?: string
}

/** Each service's scrape targets from Prometheus' API (job label = service name, see k8s/monitoring/prometheus.yml). */
export async function serviceTargets(ctx: Context, services: string[], signal?: AbortSignal): Promise<TargetReport[]> {
  const path = 'api/v1/targets?state=active'
  let body: { status?: string; data?: { activeTargets?: ActiveTarget[] } }
  try {
    const res = await monitoringRequest(ctx, 'prometheus', path, { timeoutMs: 10_000, signal })
    if (res.status !== 200) throw new ExternalError(`GET ${res.url}: HTTP ${res.status} ${res.body.slice(0, 200)}`)
    body = JSON.parse(res.body) as typeof body
  } catch (err) {
    if (err instanceof ExternalError) throw err
    throw new ExternalError(`cannot query Prometheus at ${monitoringBase(ctx, 'prometheus')}/${path}: ${(err as Error).message}`, undefined, undefined, true)
  }
  const targets = body.data?.activeTargets ?? []
  return services.map((service) => {
    const mine = targets.filter((t) => t.labels.job === service)
    const down = mine.find((t) => t.health !== 'up')
    return {
      service,
      up: mine.filter((t) => t.health === 'up').length,
      total: mine.length,
      error: down ? `${down.scrapeUrl}: ${down.lastError || down.health}` : undefined,
    }
  })
}

const healthy = (r: TargetReport): boolean => r.total > 0 && r.up === r.total
const describe = (r: TargetReport): string =>
  r.total === 0 ? `${r.service}: no target` : `${r.service}: ${r.up}/${r.total} up${r.error ? ` (${r.error})` : ''}`

function selected(ctx: Context, p: Params): string[] {
  return p.services ? ctx.catalog.select(p.services).map((s) => s.name) : ctx.catalog.deployments.map((s) => s.name)
}

/** Plan 7.5/7.7 ("verify targets in Prometheus"), without a port-forward or a browser. */
export const monitoringTargets: Step<Params> = {
  id: 'monitoring.targets',
  title: 'Every service scraped by Prometheus',
  description:
    "Plan 7.5 and 7.7: every catalog service has scrape targets and all are up in Prometheus' API (/api/v1/targets), waiting up to the deadline for new pods to be scraped.",
  danger: 'read',
  params,
  async plan(ctx, p) {
    return [
      `GET ${monitoringBase(ctx, 'prometheus')}/api/v1/targets?state=active until every target of ${selected(ctx, p).join(', ')} is up (deadline ${p.timeoutSeconds} s)`,
    ]
  },
  async check(ctx, p) {
    const reports = await serviceTargets(ctx, selected(ctx, p), ctx.signal)
    const bad = reports.filter((r) => !healthy(r))
    if (bad.length) return { status: 'todo', detail: bad.map(describe).join('; ') }
    return { status: 'done', detail: `${reports.length} services, ${reports.reduce((n, r) => n + r.up, 0)} targets up` }
  },
  async run(ctx, p) {
    const services = selected(ctx, p)
    const deadline = Date.now() + p.timeoutSeconds * 1000
    // Prometheus has no change feed for scrape results: poll its API until the deadline.
    for (;;) {
      const reports = await serviceTargets(ctx, services, ctx.signal)
      const bad = reports.filter((r) => !healthy(r))
      if (bad.length === 0) return { targets: Object.fromEntries(reports.map((r) => [r.service, r.up])) }
      ctx.log(`${services.length - bad.length}/${services.length} services fully up; waiting for ${bad.map(describe).join('; ')}`)
      if (Date.now() >= deadline)
        throw new StepFailedError(
          `Prometheus targets not up after ${p.timeoutSeconds} s: ${bad.map(describe).join('; ')}`,
          'check the pods serve /metrics on their port and that the allow-prometheus-scrape NetworkPolicy is in place; re-run to check again',
        )
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, Math.min(2000, Math.max(0, deadline - Date.now())))
        ctx.signal.addEventListener('abort', () => (clearTimeout(t), reject(ctx.signal.reason)), { once: true })
      })
    }
  },
}
