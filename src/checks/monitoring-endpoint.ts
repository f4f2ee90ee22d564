import { ExternalError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'

/** k8s/monitoring's namespace and ClusterIP Services (kustomization.yaml, prometheus.yaml, alertmanager.yaml). */
export const MONITORING_NAMESPACE = 'monitoring'
const APPS = {
  prometheus: { key: 'prometheusUrl', service: 'prometheus', port: 9090, title: 'Prometheus' },
  alertmanager: { key: 'alertmanagerUrl', service: 'alertmanager', port: 9093, title: 'Alertmanager' },
} as const
export type MonitoringApp = keyof typeof APPS

export interface MonitoringResponse {
  status: number
  body: string
  /** The URL asked, for messages. */
  url: string
}

/**
 * Where Prometheus or Alertmanager is reached: `prometheusUrl` / `alertmanagerUrl` of
 * autolytiq.yaml when set (an internal address this machine can reach); otherwise — the usual
 * case on EKS, where both are ClusterIP Services in a private VPC — through the API server's
 * service proxy with the engineer's own kubeconfig credentials.
 */
export function monitoringBase(ctx: Context, app: MonitoringApp): string {
  const a = APPS[app]
  const url = ctx.env[a.key]?.replace(/\/+$/, '')
  return url ?? `<API server>/api/v1/namespaces/${MONITORING_NAMESPACE}/services/http:${a.service}:${a.port}/proxy`
}

/** One request to Prometheus or Alertmanager (see monitoringBase); the API server's own refusals become clear errors. */
export async function monitoringRequest(
  ctx: Context,
  app: MonitoringApp,
  path: string,
  opts: { method?: string; body?: unknown; timeoutMs: number; signal?: AbortSignal },
): Promise<MonitoringResponse> {
  const a = APPS[app]
  const base = ctx.env[a.key]?.replace(/\/+$/, '')
  if (base) {
    const url = `${base}/${path.replace(/^\/+/, '')}`
    const res = await ctx.clients.http.request({ url, method: opts.method, body: opts.body, timeoutMs: opts.timeoutMs, signal: opts.signal })
    return { status: res.status, body: res.body, url }
  }
  const res = await ctx.clients.kube.serviceProxy({ namespace: MONITORING_NAMESPACE, service: a.service, port: a.port, path, ...opts })
  const reason = apiStatusMessage(res.body)
  const ns = MONITORING_NAMESPACE
  if (res.status === 401)
    throw new ExternalError(
      `the Kubernetes API server rejected the credentials while proxying to ${a.title} (401)`,
      undefined,
      undefined,
      false,
      `refresh them: \`aws sso login\`, then \`autolytiq deploy --env ${ctx.envName} --only kube.config\``,
    )
  if (res.status === 403)
    throw new ExternalError(
      `not allowed to reach ${a.title} through the API server: ${reason ?? 'forbidden'}`,
      undefined,
      undefined,
      false,
      `grant this identity \`get\` on services/proxy in ${ns} (kubectl auth can-i get services/proxy -n ${ns})`,
    )
  if (reason && res.status === 404 && /services? "[^"]+" not found/.test(reason))
    throw new ExternalError(
      `${a.title} is not deployed: ${reason}`,
      undefined,
      undefined,
      false,
      `deploy it: \`autolytiq deploy --env ${ctx.envName} --only monitoring.deploy\``,
    )
  // 503: the Endpoints list no ready address; 404 on endpoints: none were ever published
  if (reason && (res.status === 503 || (res.status === 404 && /endpoints "[^"]+" not found/.test(reason))))
    throw new ExternalError(
      `${a.title} has no ready pod behind its Service: ${reason}`,
      undefined,
      undefined,
      true,
      `look at its pods: kubectl get pods -n ${ns} -l app.kubernetes.io/name=${a.service}`,
    )
  return res
}

/** The message of a Kubernetes Status body (the API server's own answer, not the proxied service's). */
function apiStatusMessage(body: string): string | undefined {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string }
    return s.kind === 'Status' ? s.message : undefined
  } catch {
    return undefined
  }
}
