import { createServer as createHttpServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { Service } from '../config/catalog.js'

/** Where one catalog service's stand-in listens, and which paths it owns. */
export interface Upstream {
  service: string
  port: number
  /** Path prefix the service owns: its health path without `/health` ('/api/v1/deals'). */
  prefix: string
}

export interface GatewayOptions {
  cert: string
  key: string
  upstreams: Upstream[]
  /** The service every request passes through (the ALB's only target group). */
  entryService: string
  /** Ready endpoints of a Service, from the cluster (src/sandbox/endpoint-readiness.ts). */
  ready(service: string): number
  namespace: string
  /** Host name -> loopback port served directly (e.g. the Grafana stand-in behind the same ALB). */
  virtualHosts?: Record<string, number>
}

export interface Gateway {
  httpsPort: number
  httpPort: number
  /** Plain HTTP, `/<service>/<path>`: what Prometheus scrapes, as it would scrape the pods. */
  podNetworkPort: number
  stop(): Promise<void>
}

/** '/api/v1/deals/health' -> '/api/v1/deals'; the gateway's own '/health' owns only itself. */
export function ownedPrefix(s: Service): string {
  const p = s.healthPath ?? '/'
  return p.endsWith('/health') && p !== '/health' ? p.slice(0, -'/health'.length) : p
}

/** The upstream that owns `path`: the longest prefix on a segment boundary, else the entry service. */
export function routeFor(path: string, upstreams: Upstream[], entryService: string): Upstream | undefined {
  let best: Upstream | undefined
  for (const u of upstreams) {
    if (u.service === entryService) continue
    const owns = path === u.prefix || path.startsWith(u.prefix.endsWith('/') ? u.prefix : `${u.prefix}/`)
    if (owns && (!best || u.prefix.length > best.prefix.length)) best = u
  }
  return best ?? upstreams.find((u) => u.service === entryService)
}

type Req = IncomingMessage | Http2ServerRequest
type Res = ServerResponse | Http2ServerResponse

/** Hop-by-hop headers: never forwarded, and forbidden in HTTP/2 answers. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te', 'trailer'])

/** The Host a request was sent to: `:authority` over HTTP/2, `host` over HTTP/1.1. */
function hostOf(req: Req): string {
  return String(req.headers[':authority'] ?? req.headers.host ?? '')
}

/** Headers to pass on: no HTTP/2 pseudo-headers, no hop-by-hop headers. */
function endToEnd(h: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':') && !HOP_BY_HOP.has(k)))
}

function unavailable(res: Res, service: string, namespace: string): void {
  res.writeHead(503, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: 'service unavailable', service, detail: `no ready endpoints for service ${service} in namespace ${namespace}` }))
}

/** Passes a request to a service over HTTP/1.1, as the ALB does to its targets whatever the client spoke. */
function forward(req: Req, res: Res, port: number): void {
  const upstream = request(
    {
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers: { ...endToEnd(req.headers), host: hostOf(req), 'x-forwarded-proto': 'https', 'x-forwarded-for': req.socket.remoteAddress ?? '' },
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, endToEnd(up.headers))
      up.pipe(res as ServerResponse)
    },
  )
  upstream.on('error', (err) => {
    if (res.headersSent) return void ('stream' in res ? res.stream.destroy() : res.destroy())
    res.writeHead(502, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'bad gateway', detail: err.message }))
  })
  req.pipe(upstream)
}

async function listen(server: Server | Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as AddressInfo).port
}

/**
 * The sandbox's load balancer: HTTPS with the sandbox CA's certificate for the API domain,
 * speaking HTTP/2 and HTTP/1.1 to clients (ALPN) as an ALB does, HTTP/1.1 to the services; and a
 * plain-HTTP listener that answers 301 to HTTPS (the ALB's ssl-redirect). A request reaches a
 * service only while the entry service and the owning service have ready endpoints in the
 * cluster; otherwise 503 naming the service, as an ALB with an empty target group would.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const https = createSecureServer({ cert: o.cert, key: o.key, allowHTTP1: true }, (req: Req, res: Res) => {
    const host = hostOf(req).split(':')[0]?.toLowerCase() ?? ''
    const vhost = o.virtualHosts?.[host]
    if (vhost) return forward(req, res, vhost)
    const path = new URL(req.url ?? '/', 'https://gateway').pathname
    const target = routeFor(path, o.upstreams, o.entryService)
    if (!target) return unavailable(res, o.entryService, o.namespace)
    for (const service of new Set([o.entryService, target.service])) if (o.ready(service) === 0) return unavailable(res, service, o.namespace)
    forward(req, res, target.port)
  })
  // An HTTP/2 server has no closeAllConnections(): its connections are tracked for stop().
  const tlsSockets = new Set<Socket>()
  https.on('connection', (sock: Socket) => {
    tlsSockets.add(sock)
    sock.once('close', () => tlsSockets.delete(sock))
  })
  const httpsPort = await listen(https)
  const http = createHttpServer((req, res) => {
    const host = (req.headers.host ?? 'localhost').split(':')[0]
    res.writeHead(301, { location: `https://${host}:${httpsPort}${req.url ?? '/'}` })
    res.end()
  })
  const httpPort = await listen(http)
  // Prometheus in a cluster scrapes pods, so a service without ready pods has no healthy target;
  // scraping through this listener gives the sandbox's Prometheus the same view.
  const podNetwork = createHttpServer((req, res) => {
    const [, service = '', ...rest] = (req.url ?? '/').split('/')
    const target = o.upstreams.find((u) => u.service === service)
    if (!target) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: `no service ${service}` }))
    }
    if (o.ready(service) === 0) return unavailable(res, service, o.namespace)
    req.url = `/${rest.join('/')}`
    forward(req, res, target.port)
  })
  const podNetworkPort = await listen(podNetwork)
  const close = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections()
      s.close(() => resolve())
    })
  return {
    httpsPort,
    httpPort,
    podNetworkPort,
    stop: async () => {
      for (const sock of tlsSockets) sock.destroy()
      await Promise.all([https.listening ? new Promise<void>((resolve) => https.close(() => resolve())) : undefined, close(http), close(podNetwork)])
    },
  }
}
