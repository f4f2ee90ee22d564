import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import { isIP, type LookupFunction } from 'node:net'
import { createSecureContext, rootCertificates, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls'
import { H2Origin } from './http2-origin.js'
import { lookupVia } from './lookup.js'

/** Health and smoke responses are small; memory is capped if an endpoint misbehaves. */
const MAX_BODY = 1_000_000

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
  /** HTTPS: the connection resumed an earlier TLS session (no certificate was presented or checked on it). */
  sessionReused?: boolean
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
   * The keep-alive agent of verified requests, so a verify run with 200 health checks through the
   * one public entry point does not pay 200 full TLS handshakes: idle connections are reused and
   * new ones resume the cached TLS session. Only verified handshakes put sessions in it. A request
   * with `rejectUnauthorized: false` (the TLS check, which judges the certificate itself) never
   * touches it: Node skips the host-name check on a resumed session, so a verified request resuming
   * a session first opened without verification would accept a certificate for another host.
   */
  private readonly verifiedAgent = new https.Agent({ keepAlive: true, maxCachedSessions: 1000 })
  private readonly plainAgent = new http.Agent({ keepAlive: true })
  /** First TLS connection per origin: the others wait for its session ticket so they can resume it. */
  private readonly firstHandshake = new Map<string, Promise<void>>()
  /** Per HTTPS origin: its HTTP/2 connection, or undefined once it chose HTTP/1.1 in ALPN. */
  private readonly h2 = new Map<string, Promise<H2Origin | undefined>>()

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
    this.verifiedAgent.destroy()
    this.plainAgent.destroy()
    for (const o of this.h2.values())
      void o.then(
        (s) => s?.close(),
        () => undefined,
      )
    this.h2.clear()
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now()
    const url = new URL(req.url)
    const isHttps = url.protocol === 'https:'
    if (!isHttps) return this.send(req, url, started, this.plainAgent)
    if (req.rejectUnauthorized === false) return this.inspect(req, url, started)
    const origin = await this.h2Origin(url, req.timeoutMs)
    if (origin) return this.sendH2(origin, req, url, started)
    const first = this.firstHandshake.get(url.host)
    if (first) {
      await first
      return this.send(req, url, started, this.verifiedAgent)
    }
    let settle!: () => void
    this.firstHandshake.set(url.host, new Promise<void>((resolve) => (settle = resolve)))
    return this.send(req, url, started, this.verifiedAgent, settle).finally(settle)
  }

  /**
   * The origin's HTTP/2 connection: opened once (concurrent callers share the attempt), opened
   * again when the server ended it (GOAWAY, idle close). A failed handshake is not remembered,
   * so the next request tries again; "HTTP/1.1 only" is.
   */
  private async h2Origin(url: URL, timeoutMs: number): Promise<H2Origin | undefined> {
    const key = url.origin
    const pending = this.h2.get(key)
    if (pending) {
      // A shared attempt that failed fails this request the same way (refused, untrusted, wrong host).
      const origin = await pending
      if (origin === undefined || origin.usable) return origin
      if (this.h2.get(key) === pending) this.h2.delete(key)
      return this.h2Origin(url, timeoutMs)
    }
    const opening = H2Origin.open({ url, secureContext: this.secureContext, lookup: this.lookup, timeoutMs })
    this.h2.set(key, opening)
    opening.catch(() => this.h2.get(key) === opening && this.h2.delete(key))
    return opening
  }

  private async sendH2(origin: H2Origin, req: HttpRequest, url: URL, started: number, retried = false): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
    const headers: Record<string, string> = {
      'user-agent': 'autolytiq',
      ...(body && typeof req.body !== 'string' ? { 'content-type': 'application/json' } : {}),
      ...req.headers,
    }
    try {
      const a = await origin.request({ url, method: req.method ?? 'GET', headers, body, timeoutMs: req.timeoutMs, signal: req.signal, maxBody: MAX_BODY })
      return {
        status: a.status,
        headers: a.headers,
        body: a.body.toString('utf8'),
        ms: Math.round(performance.now() - started),
        certificate: origin.certificate,
      }
    } catch (err) {
      // The server ended the connection under a GET that got no answer (GOAWAY, idle close): once more, on a new connection.
      const idempotent = ['GET', 'HEAD'].includes(req.method ?? 'GET')
      if (!retried && idempotent && !origin.usable && (err as NodeJS.ErrnoException).code !== 'ABORT_ERR' && !req.signal?.aborted) {
        const next = await this.h2Origin(url, req.timeoutMs)
        if (next) return this.sendH2(next, req, url, started, true)
      }
      throw err
    }
  }

  /**
   * A request that must see the certificate as the server presents it now: a connection of its
   * own with a full handshake (the chain and the host name are checked on it; the verdict is in
   * `authorizationError`), no session offered or kept, closed after the answer. In `verify --watch`
   * a pooled or resumed connection would show the first round's certificate for ever.
   */
  private async inspect(req: HttpRequest, url: URL, started: number): Promise<HttpResponse> {
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0 })
    try {
      return await this.send(req, url, started, agent)
    } finally {
      agent.destroy()
    }
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
          const sessionReused = isHttps ? sock.isSessionReused() : undefined
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            // Health and smoke responses are small; cap memory if an endpoint misbehaves.
            if (size <= MAX_BODY) chunks.push(c)
          })
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: Math.round(performance.now() - started),
              certificate,
              authorizationError,
              sessionReused,
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
