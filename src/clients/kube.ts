import http from 'node:http'
import https from 'node:https'
import type * as k8s from '@kubernetes/client-node'
import { ExternalError, UserError } from '../engine/errors.js'
import { apiStatus } from '../k8s/api.js'
import type { EksToken } from './eks-token.js'

export interface KubeSettings {
  /** kubeconfig path; default the usual KUBECONFIG / ~/.kube/config */
  kubeconfig?: string
  context?: string
  /**
   * The EKS token of this environment's cluster, made in-process (src/clients/eks-token.ts).
   * When the context's user is an EKS token exec entry (`autolytiq kube-token` as kube.config
   * writes it, or `aws eks get-token`), autolytiq's own calls use this instead of running the
   * command: no aws CLI needed, and no child process per token.
   */
  eksToken?: () => Promise<EksToken>
  /** With eksToken: the caller's IAM principal and the names for a 401's next step. */
  eks?: { whoami: () => Promise<string>; cluster: string; envName: string }
  /** The environment these clients serve: its name goes into every hint (`--env`). */
  envName?: string
}

/** A kubeconfig user whose exec entry only mints an EKS token: autolytiq can mint it itself. */
export function isEksTokenExec(user: { exec?: { command?: string; args?: string[] } } | null | undefined): boolean {
  const exec = user?.exec
  if (!exec?.command) return false
  const args = exec.args ?? []
  return args.includes('kube-token') || (/(^|\/)aws(\.exe)?$/.test(exec.command) && args.includes('get-token'))
}

/**
 * client-node authenticator for the in-process EKS token: a fresh token when the cached one has
 * under a minute left (EKS tokens live 15 minutes; a deploy and its watches can outlive one).
 */
class EksTokenAuth {
  private cached?: EksToken
  constructor(
    private readonly userName: string,
    private readonly mint: () => Promise<EksToken>,
  ) {}
  isAuthProvider(user: { name: string; exec?: unknown }): boolean {
    return user.name === this.userName && !user.exec
  }
  async applyAuthentication(_user: unknown, opts: { headers?: Record<string, unknown> }): Promise<void> {
    if (!this.cached || this.cached.expiresAt.getTime() - Date.now() < 60_000) this.cached = await this.mint()
    opts.headers ??= {}
    opts.headers.Authorization = `Bearer ${this.cached.token}`
  }
}

type AgentFactory = (cluster: { server?: string; proxyUrl?: string } | null, options: Record<string, unknown>) => http.Agent
type KeyPart = string | number | boolean | undefined | null

/**
 * client-node 1.x builds a new https.Agent for every API call, so every call opened its own TLS
 * connection: a full handshake and a new secure context each (a re-run of a finished deploy
 * made ~400 of them, ~1.5 s of CPU and a round trip each). One keep-alive agent per TLS setting
 * lets calls reuse connections. Node unrefs idle keep-alive sockets, so they never hold the
 * process open. Proxied clusters keep the library's own agents.
 */
function shareAgents(kc: k8s.KubeConfig): void {
  const target = kc as unknown as { createAgent: AgentFactory }
  const create = target.createAgent.bind(kc)
  const agents = new Map<string, http.Agent>()
  const part = (v: unknown): KeyPart => (Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as KeyPart))
  target.createAgent = (cluster, options) => {
    if (cluster?.proxyUrl) return create(cluster, options)
    const key = JSON.stringify([
      cluster?.server,
      ...Object.keys(options)
        .sort()
        .map((k) => [k, part(options[k])]),
    ])
    let agent = agents.get(key)
    if (!agent) {
      agent = create(cluster, { ...options, keepAlive: true })
      agents.set(key, agent)
    }
    return agent
  }
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
  /** True once the current user authenticates with the in-process EKS token. */
  private usesEksToken = false

  constructor(readonly settings: KubeSettings) {}

  /** The command that (re)writes this environment's kubeconfig context. */
  private kubeConfigCommand(): string {
    return kubeConfigCommand(this.settings.envName)
  }

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
        `run the kube.config step (\`${this.kubeConfigCommand()}\`) or set KUBECONFIG`,
      )
    }
    if (this.settings.context) {
      if (!kc.getContexts().some((c) => c.name === this.settings.context))
        throw new UserError(`kubeconfig has no context "${this.settings.context}"`, `run \`${this.kubeConfigCommand()}\` to add it`)
      kc.setCurrentContext(this.settings.context)
    }
    if (!kc.getCurrentCluster()) throw new UserError('kubeconfig has no current cluster', `run \`${this.kubeConfigCommand()}\``)
    shareAgents(kc)
    const user = kc.getCurrentUser()
    if (this.settings.eksToken && user && isEksTokenExec(user)) {
      // the same user without its exec entry, authenticated by the in-process token instead
      kc.users = kc.users.map((u) => (u.name === user.name ? { name: u.name } : u))
      kc.addAuthenticator(new EksTokenAuth(user.name, this.settings.eksToken))
      this.usesEksToken = true
    }
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
    const envName = this.settings.envName
    const explain = async (err: unknown): Promise<unknown> =>
      this.usesEksToken && this.settings.eks && apiStatus(err) === 401
        ? noAccessEntry(this.settings.eks, server)
        : translateKubeError(err, server, where, envName)
    return new Proxy(api, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          const r: unknown = value.apply(target, args)
          if (r && typeof (r as Promise<unknown>).then === 'function')
            return (r as Promise<unknown>).catch(async (err: unknown) => {
              throw await explain(err)
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

/**
 * A 401 to a valid EKS token means the cluster has no access entry for the caller (only the
 * identity that ran `terraform apply` gets one by itself): name the principal and how to add it.
 */
async function noAccessEntry(eks: NonNullable<KubeSettings['eks']>, server: string): Promise<UserError> {
  let arn = '(your AWS identity)'
  try {
    arn = await eks.whoami()
  } catch {
    // the STS call failing too: keep the generic wording
  }
  return new UserError(
    `the EKS cluster ${eks.cluster} at ${server} does not accept ${arn} (401 Unauthorized): it has no access entry for that IAM principal; nothing was changed`,
    `add it to eks_access_entries under environments.${eks.envName}.terraformVars in autolytiq.yaml and apply it (\`autolytiq deploy --env ${eks.envName} --only terraform.plan --only terraform.apply\`, run by an identity the cluster accepts), or have a cluster admin run \`aws eks create-access-entry --cluster-name ${eks.cluster} --principal-arn ${arn}\` and \`aws eks associate-access-policy\``,
  )
}

const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN']
/** The same codes errors.isTransient retries: a reset or a timeout may pass, a refusal will not. */
const TRANSIENT = ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']

/** Credential and network failures of a Kubernetes API call become one clear message with the next step; the rest pass through. */
const kubeConfigCommand = (envName = '<env>'): string => `autolytiq deploy --env ${envName} --only kube.config`

export function translateKubeError(err: unknown, server: string, kubeconfig: string, envName?: string): unknown {
  const status = apiStatus(err)
  if (status === 401)
    return new UserError(
      `the Kubernetes API server at ${server} rejected the credentials (401 Unauthorized); nothing was changed`,
      `the user of the current context in ${kubeconfig} has an invalid or expired token or certificate: for EKS run \`aws sso login\`, then \`${kubeConfigCommand(envName)}\``,
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
