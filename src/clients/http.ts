import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import { isIP, type LookupFunction } from 'node:net'
import { createSecureContext, rootCertificates, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls'
import { lookupVia } from './lookup.js'

export interface HttpSettings {
  /** DNS servers to resolve with ("127.0.0.1:5353"); default: the system resolver. */
  dnsServers?: string[]
  /** Extra CA bundle (the sandbox's local CA); the system roots are always trusted. */
  caFile?: string
}

export interface HttpRequest {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: unknown
  timeoutMs: number
  signal?: AbortSignal
  /** Do not follow redirects (we check them) — Node's http never follows anyway. */
  rejectUnauthorized?: boolean
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  ms: number
  certificate?: PeerCertificate
  /** Set when TLS verification failed but rejectUnauthorized was false. */
  authorizationError?: string
}

/**
 * The one HTTP client for health, smoke, TLS and redirect checks. node:http(s) rather than fetch:
 * checks need the peer certificate, a custom CA, a custom DNS resolver and exact redirects.
 */
export class HttpClient {
  private readonly lookup?: LookupFunction
  /** Built once: parsing ~150 root certificates per request costs ~150 ms of CPU each time. */
  private readonly secureContext?: SecureContext
  /**
   * Keep-alive agents, one per certificate policy, so a verify run with 200 health checks through
   * the one public entry point does not pay 200 full TLS handshakes: idle connections are reused
   * and new ones resume the cached TLS session. A connection opened without verification (the TLS
   * check judges the certificate itself) lives in its own agent, never serving a verified request,
   * and never resumes a session: on a resumed TLS session Node's getPeerCertificate() is empty, and
   * the check would report "presented no certificate" (seen in the e2e test under load).
   */
  private readonly agents = {
    verified: new https.Agent({ keepAlive: true, maxCachedSessions: 1000 }),
    unverified: new https.Agent({ keepAlive: true, maxCachedSessions: 0 }),
  }
  private readonly plainAgent = new http.Agent({ keepAlive: true })
  /** First TLS connection per origin and policy: the others wait for its session ticket so they can resume it. */
  private readonly firstHandshake = new Map<string, Promise<void>>()

  constructor(readonly settings: HttpSettings = {}) {
    this.lookup = lookupVia(settings.dnsServers)
    // Passing `ca` replaces Node's roots; keep them so real certificates still verify.
    if (settings.caFile) this.secureContext = createSecureContext({ ca: [...rootCertificates, readFileSync(settings.caFile, 'utf8')] })
  }

  get resolverServers(): string[] | undefined {
    return this.settings.dnsServers
  }

  /** Closes idle keep-alive connections (a finished command must not wait for them to time out). */
  close(): void {
    this.agents.verified.destroy()
    this.agents.unverified.destroy()
    this.plainAgent.destroy()
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now()
    const url = new URL(req.url)
    const isHttps = url.protocol === 'https:'
    if (!isHttps) return this.send(req, url, started, this.plainAgent)
    const verified = req.rejectUnauthorized ?? true
    const key = `${verified}|${url.host}`
    const first = this.firstHandshake.get(key)
    if (first) {
      await first
      return this.send(req, url, started, verified ? this.agents.verified : this.agents.unverified)
    }
    let settle!: () => void
    this.firstHandshake.set(key, new Promise<void>((resolve) => (settle = resolve)))
    return this.send(req, url, started, verified ? this.agents.verified : this.agents.unverified, settle).finally(settle)
  }

  private send(req: HttpRequest, url: URL, started: number, agent: http.Agent, onConnected?: () => void): Promise<HttpResponse> {
    const isHttps = url.protocol === 'https:'
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
    const headers: Record<string, string> = {
      'user-agent': 'autolytiq',
      ...(body && typeof req.body !== 'string' ? { 'content-type': 'application/json' } : {}),
      ...req.headers,
    }
    const mod = isHttps ? https : http
    return new Promise((resolve, reject) => {
      const r = mod.request(
        url,
        {
          method: req.method ?? 'GET',
          headers,
          lookup: this.lookup,
          agent,
          ...(isHttps
            ? {
                secureContext: this.secureContext,
                rejectUnauthorized: req.rejectUnauthorized ?? true,
                // SNI carries names only (RFC 6066); an IP there is ignored and warned about by Node.
                servername: isIP(url.hostname) ? undefined : url.hostname,
              }
            : {}),
          signal: req.signal,
        },
        (res) => {
          // Read now: once the body ends, a keep-alive socket goes back to the pool.
          const sock = res.socket as TLSSocket
          const certificate = isHttps && sock.getPeerCertificate ? sock.getPeerCertificate(true) : undefined
          const authorizationError = isHttps && sock.authorizationError ? String(sock.authorizationError) : undefined
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            // Health and smoke responses are small; cap memory if an endpoint misbehaves.
            if (size <= 1_000_000) chunks.push(c)
          })
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: Math.round(performance.now() - started),
              certificate,
              authorizationError,
            })
          })
          res.on('error', reject)
        },
      )
      if (onConnected) r.once('socket', (sock) => (sock as TLSSocket).once('session', onConnected).once('close', onConnected))
      r.setTimeout(req.timeoutMs, () => r.destroy(Object.assign(new Error(`no response within ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' })))
      r.on('error', (err: NodeJS.ErrnoException) => {
        // A pooled connection the server closed while idle: a GET never reached it, send it once more.
        const idempotent = ['GET', 'HEAD'].includes(req.method ?? 'GET')
        if (idempotent && r.reusedSocket && err.code === 'ECONNRESET' && !req.signal?.aborted) resolve(this.send(req, url, started, agent))
        else reject(err)
      })
      if (body) r.write(body)
      r.end()
    })
  }
}
