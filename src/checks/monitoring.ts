import { parse } from 'yaml'
import type { Check, CheckStatus, Context } from '../engine/types.js'
import { ExternalError, errorMessage } from '../engine/errors.js'
import { describeRequestError } from './http.js'
import { monitoringRequest, type MonitoringApp } from './monitoring-endpoint.js'

type Verdict = { status: CheckStatus; detail: string }
type UrlKey = 'grafanaUrl'

const list = (items: string[], max = 5): string => items.slice(0, max).join('; ') + (items.length > max ? `; …and ${items.length - max} more` : '')

type Json<T> = { ok: true; body: T } | { ok: false; verdict: Verdict }

/** GET a JSON document from a monitoring endpoint; any failure is a verdict, not an exception. */
async function getJson<T>(ctx: Context, url: string, timeoutMs: number, signal: AbortSignal): Promise<Json<T>> {
  try {
    const res = await ctx.clients.http.request({ url, timeoutMs, signal })
    if (res.status !== 200) return { ok: false, verdict: { status: 'fail', detail: `${url} answered HTTP ${res.status}` } }
    return { ok: true, body: JSON.parse(res.body) as T }
  } catch (err) {
    if (err instanceof SyntaxError) return { ok: false, verdict: { status: 'fail', detail: `${url} did not return JSON` } }
    return { ok: false, verdict: { status: 'fail', detail: describeRequestError(err, url, timeoutMs) } }
  }
}

/** GET JSON from Prometheus or Alertmanager: the configured URL, or the API server's service proxy. */
async function getMonitoringJson<T>(ctx: Context, app: MonitoringApp, path: string, timeoutMs: number, signal: AbortSignal): Promise<Json<T>> {
  let url = path
  try {
    const res = await monitoringRequest(ctx, app, path, { timeoutMs, signal })
    url = res.url
    if (res.status !== 200) return { ok: false, verdict: { status: 'fail', detail: `${url} answered HTTP ${res.status}` } }
    return { ok: true, body: JSON.parse(res.body) as T }
  } catch (err) {
    if (err instanceof SyntaxError) return { ok: false, verdict: { status: 'fail', detail: `${url} did not return JSON` } }
    if (err instanceof ExternalError) return { ok: false, verdict: { status: 'fail', detail: `${errorMessage(err)}${err.next ? ` — ${err.next}` : ''}` } }
    const at = ctx.env[app === 'prometheus' ? 'prometheusUrl' : 'alertmanagerUrl']
    return {
      ok: false,
      verdict: { status: 'fail', detail: at ? describeRequestError(err, `${at.replace(/\/+$/, '')}/${path}`, timeoutMs) : errorMessage(err) },
    }
  }
}

/** A check of Prometheus or Alertmanager: reached through the configured URL or the API server's service proxy. */
function clusterMonitoringCheck(id: string, title: string, timeoutMs: number, judge: (ctx: Context, signal: AbortSignal) => Promise<Verdict>): Check {
  return { id, title, layer: 'monitoring', timeoutMs, run: (ctx, signal) => judge(ctx, signal) }
}

/** A monitoring check on one configured URL; an unset URL is a warning that says where to set it. */
function monitoringCheck(
  id: string,
  title: string,
  key: UrlKey,
  timeoutMs: number,
  judge: (ctx: Context, base: string, signal: AbortSignal) => Promise<Verdict>,
): Check {
  return {
    id,
    title,
    layer: 'monitoring',
    timeoutMs,
    async run(ctx, signal) {
      const base = ctx.env[key]?.replace(/\/+$/, '')
      if (!base) return { status: 'warn', detail: `${key} is not set for ${ctx.envName} in autolytiq.yaml; not checked` }
      return judge(ctx, base, signal)
    },
  }
}

interface PromTarget {
  labels: Record<string, string>
  scrapeUrl: string
  health: 'up' | 'down' | 'unknown'
  lastError: string
}

/** Plan 7 / checklist "Prometheus scraping all targets". */
export function prometheusTargetsCheck(timeoutMs: number): Check {
  return clusterMonitoringCheck('monitoring.targets', 'Prometheus targets up', timeoutMs, async (ctx, signal) => {
    const r = await getMonitoringJson<{ data: { activeTargets: PromTarget[] } }>(ctx, 'prometheus', 'api/v1/targets?state=active', timeoutMs, signal)
    if (!r.ok) return r.verdict
    const targets = r.body.data.activeTargets
    if (!targets.length) return { status: 'fail', detail: 'Prometheus has no active targets: nothing is being scraped' }
    const down = targets.filter((t) => t.health === 'down')
    const unknown = targets.filter((t) => t.health === 'unknown')
    const name = (t: PromTarget): string => `${t.labels.job} ${t.labels.instance ?? t.scrapeUrl}`
    if (down.length)
      return {
        status: 'fail',
        detail: `${down.length} of ${targets.length} targets down: ${list(down.map((t) => `${name(t)} (${t.lastError || 'no error text'})`))}`,
      }
    if (unknown.length) return { status: 'warn', detail: `${unknown.length} of ${targets.length} targets not scraped yet: ${list(unknown.map(name))}` }
    return { status: 'pass', detail: `${targets.length} targets up (${[...new Set(targets.map((t) => t.labels.job))].length} jobs)` }
  })
}

interface PromAlert {
  labels: Record<string, string>
  annotations?: Record<string, string>
  state: 'firing' | 'pending' | 'inactive'
  activeAt?: string
}

/** Firing alerts, listed: a critical one fails verify, others are warnings for the incident ticket. */
export function firingAlertsCheck(timeoutMs: number): Check {
  return clusterMonitoringCheck('monitoring.alerts', 'Firing alerts', timeoutMs, async (ctx, signal) => {
    const r = await getMonitoringJson<{ data: { alerts: PromAlert[] } }>(ctx, 'prometheus', 'api/v1/alerts', timeoutMs, signal)
    if (!r.ok) return r.verdict
    const firing = r.body.data.alerts.filter((a) => a.state === 'firing')
    if (!firing.length) return { status: 'pass', detail: 'no alerts firing' }
    const text = firing.map((a) => {
      const where = a.labels.service ?? a.labels.job ?? a.labels.instance
      return `${a.labels.alertname} (${a.labels.severity ?? 'no severity'})${where ? ` on ${where}` : ''}${a.activeAt ? ` since ${a.activeAt.slice(0, 19)}Z` : ''}`
    })
    const critical = firing.some((a) => a.labels.severity === 'critical')
    return { status: critical ? 'fail' : 'warn', detail: `${firing.length} firing: ${list(text)}` }
  })
}

/** Alertmanager is up (plan 7.x). */
export function alertmanagerHealthCheck(timeoutMs: number): Check {
  return clusterMonitoringCheck('monitoring.alertmanager', 'Alertmanager healthy', timeoutMs, async (ctx, signal) => {
    const r = await getMonitoringJson<{ cluster?: { status?: string }; versionInfo?: { version?: string } }>(
      ctx,
      'alertmanager',
      'api/v2/status',
      timeoutMs,
      signal,
    )
    if (!r.ok) return r.verdict
    const cluster = r.body.cluster?.status
    const version = r.body.versionInfo?.version ?? '?'
    if (cluster && !['ready', 'disabled'].includes(cluster)) return { status: 'warn', detail: `Alertmanager ${version} cluster status ${cluster}` }
    return { status: 'pass', detail: `Alertmanager ${version} up${cluster ? ` (cluster ${cluster})` : ''}` }
  })
}

/** Checklist "AlertManager configured with notification channels": a receiver that notifies someone. */
export function alertmanagerReceiversCheck(timeoutMs: number): Check {
  return clusterMonitoringCheck('monitoring.receivers', 'Alertmanager notification channels configured', timeoutMs, async (ctx, signal) => {
    const r = await getMonitoringJson<{ config?: { original?: string } }>(ctx, 'alertmanager', 'api/v2/status', timeoutMs, signal)
    if (!r.ok) return r.verdict
    const config = (parse(r.body.config?.original ?? '') ?? {}) as { receivers?: Record<string, unknown>[] }
    const wired = (config.receivers ?? [])
      .map((rc) => ({
        name: String(rc.name),
        kinds: Object.keys(rc).filter((k) => k.endsWith('_configs') && Array.isArray(rc[k]) && (rc[k] as unknown[]).length),
      }))
      .filter((rc) => rc.kinds.length)
    if (!wired.length) return { status: 'fail', detail: 'no receiver has a notification integration: alerts would go nowhere' }
    return { status: 'pass', detail: wired.map((rc) => `${rc.name} (${rc.kinds.map((k) => k.replace(/_configs$/, '')).join(', ')})`).join('; ') }
  })
}

/** Grafana's own health endpoint (database reachable). */
export function grafanaHealthCheck(timeoutMs: number): Check {
  return monitoringCheck('monitoring.grafana', 'Grafana healthy', 'grafanaUrl', timeoutMs, async (ctx, base, signal) => {
    const r = await getJson<{ database?: string; version?: string }>(ctx, `${base}/api/health`, timeoutMs, signal)
    if (!r.ok) return r.verdict
    if (r.body.database !== 'ok') return { status: 'fail', detail: `Grafana reports database "${r.body.database ?? 'unknown'}"` }
    return { status: 'pass', detail: `Grafana ${r.body.version ?? ''} up, database ok`.replace('  ', ' ') }
  })
}

export function monitoringChecks(timeoutMs: number): Check[] {
  return [prometheusTargetsCheck(timeoutMs), firingAlertsCheck(timeoutMs), alertmanagerHealthCheck(timeoutMs), grafanaHealthCheck(timeoutMs)]
}
