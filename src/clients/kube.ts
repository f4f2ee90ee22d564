import http from 'node:http'
import https from 'node:https'
import type * as k8s from '@kubernetes/client-node'
import { ExternalError, UserError } from '../engine/errors.js'
import { apiStatus } from '../k8s/api.js'

export interface KubeSettings {
  /** kubeconfig path; default the usual KUBECONFIG / ~/.kube/config */
  kubeconfig?: string
  context?: string
}

export interface ServiceProxyRequest {
  namespace: string
  service: string
  /** The Service's port number or name. */
  port: number | string
  scheme?: 'http' | 'https'
  /** Path and query on the service ('api/v1/targets?state=active'). */
  path: string
  method?: string
  /** Sent as JSON. */
  body?: unknown
  timeoutMs: number
  signal?: AbortSignal
}

/**
 * The one place Kubernetes API clients are built (@kubernetes/client-node). Loaded lazily:
 * the library is heavy and most commands (status, log, runbook) never talk to a cluster.
 */
export class KubeClients {
  private loaded?: { lib: typeof k8s; kc: k8s.KubeConfig }

  constructor(readonly settings: KubeSettings) {}

  async lib(): Promise<typeof k8s> {
    return (await this.load()).lib
  }

  async config(): Promise<k8s.KubeConfig> {
    return (await this.load()).kc
  }

  private async load(): Promise<{ lib: typeof k8s; kc: k8s.KubeConfig }> {
    if (this.loaded) return this.loaded
    const lib = await import('@kubernetes/client-node')
    const kc = new lib.KubeConfig()
    try {
      if (this.settings.kubeconfig) kc.loadFromFile(this.settings.kubeconfig)
      else kc.loadFromDefault()
    } catch (err) {
      throw new UserError(
        `cannot load kubeconfig ${this.settings.kubeconfig ?? '(default)'}: ${(err as Error).message}`,
        'run the kube.config step (`autolytiq deploy --only kube.config`) or set KUBECONFIG',
      )
    }
    if (this.settings.context) {
      if (!kc.getContexts().some((c) => c.name === this.settings.context))
        throw new UserError(`kubeconfig has no context "${this.settings.context}"`, 'run `autolytiq deploy --only kube.config` to add it')
      kc.setCurrentContext(this.settings.context)
    }
    if (!kc.getCurrentCluster()) throw new UserError('kubeconfig has no current cluster', 'run `autolytiq deploy --only kube.config`')
    this.loaded = { lib, kc }
    return this.loaded
  }

  /** A typed API client for one API group, built from the loaded kubeconfig. */
  private async api<T extends k8s.ApiType>(pick: (lib: typeof k8s) => k8s.ApiConstructor<T>): Promise<T> {
    const { lib, kc } = await this.load()
    return this.translated(kc.makeApiClient(pick(lib)), kc)
  }

  core = (): Promise<k8s.CoreV1Api> => this.api((l) => l.CoreV1Api)
  apps = (): Promise<k8s.AppsV1Api> => this.api((l) => l.AppsV1Api)
  batch = (): Promise<k8s.BatchV1Api> => this.api((l) => l.BatchV1Api)
  autoscaling = (): Promise<k8s.AutoscalingV2Api> => this.api((l) => l.AutoscalingV2Api)
  policy = (): Promise<k8s.PolicyV1Api> => this.api((l) => l.PolicyV1Api)
  networking = (): Promise<k8s.NetworkingV1Api> => this.api((l) => l.NetworkingV1Api)
  custom = (): Promise<k8s.CustomObjectsApi> => this.api((l) => l.CustomObjectsApi)

  async objects(): Promise<k8s.KubernetesObjectApi> {
    const { lib, kc } = await this.load()
    return this.translated(lib.KubernetesObjectApi.makeApiClient(kc), kc)
  }

  /**
   * An API client whose calls turn a rejected credential or an unreachable API server into one
   * clear message (translateKubeError). Without it a bad token reached the engineer as
   * "unexpected error: HTTP-Code: 401 ... Headers: {...}" (the client's raw dump, called a bug)
   * and a server that is down as a bare fetch error. Other API errors pass through unchanged:
   * callers look at their status (404, 409, 422).
   */
  private translated<T extends object>(api: T, kc: k8s.KubeConfig): T {
    const server = kc.getCurrentCluster()?.server ?? '(no server)'
    const where = this.settings.kubeconfig ?? 'your kubeconfig'
    return new Proxy(api, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          const r: unknown = value.apply(target, args)
          if (r && typeof (r as Promise<unknown>).then === 'function')
            return (r as Promise<unknown>).catch((err: unknown) => {
              throw translateKubeError(err, server, where)
            })
          return r
        }
      },
    })
  }

  /**
   * An HTTP request to a Service through the API server's service proxy
   * (/api/v1/namespaces/N/services/<scheme>:<name>:<port>/proxy/<path>), with this kubeconfig's
   * credentials: reaches a ClusterIP Service (Prometheus, Alertmanager) from the engineer's
   * machine without a port-forward, an ingress or a VPN route into the VPC. Needs RBAC `get` on
   * services/proxy. The API server answers 503 when the Service has no ready endpoint.
   */
  async serviceProxy(req: ServiceProxyRequest): Promise<{ status: number; body: string; url: string }> {
    const { kc } = await this.load()
    const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '')
    const path = req.path.replace(/^\/+/, '')
    const url = `${server}/api/v1/namespaces/${req.namespace}/services/${req.scheme ?? 'http'}:${req.service}:${req.port}/proxy/${path}`
    const opts: https.RequestOptions = { method: req.method ?? 'GET', headers: {} }
    await kc.applyToHTTPSOptions(opts)
    const body = req.body === undefined ? undefined : JSON.stringify(req.body)
    if (body) Object.assign(opts.headers!, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    const signal = AbortSignal.any([AbortSignal.timeout(req.timeoutMs), ...(req.signal ? [req.signal] : [])])
    const where = this.settings.kubeconfig ?? 'your kubeconfig'
    try {
      return await new Promise((resolve, reject) => {
        const r = (url.startsWith('https:') ? https : http).request(url, { ...opts, signal }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), url }))
          res.on('error', reject)
        })
        r.on('error', reject)
        r.end(body)
      })
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError' && !req.signal?.aborted)
        throw new ExternalError(`no answer within ${req.timeoutMs} ms from ${url}`, undefined, undefined, true)
      throw translateKubeError(err, server, where)
    }
  }

  async watch(): Promise<k8s.Watch> {
    const { lib, kc } = await this.load()
    return new lib.Watch(kc)
  }
}

const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN']
/** The same codes errors.isTransient retries: a reset or a timeout may pass, a refusal will not. */
const TRANSIENT = ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']

/** Credential and network failures of a Kubernetes API call become one clear message with the next step; the rest pass through. */
export function translateKubeError(err: unknown, server: string, kubeconfig: string): unknown {
  const status = apiStatus(err)
  if (status === 401)
    return new UserError(
      `the Kubernetes API server at ${server} rejected the credentials (401 Unauthorized); nothing was changed`,
      `the user of the current context in ${kubeconfig} has an invalid or expired token or certificate: for EKS run \`aws sso login\`, then \`autolytiq deploy --only kube.config\``,
    )
  const e = err as { code?: unknown; cause?: { code?: unknown } }
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined
  if (code && UNREACHABLE.includes(code))
    return new ExternalError(
      `cannot reach the Kubernetes API server at ${server} (${code})`,
      undefined,
      undefined,
      TRANSIENT.includes(code),
      'check the network path to the cluster (VPN; `kubectl cluster-info`), then re-run the same command',
    )
  return err
}
