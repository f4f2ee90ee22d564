import http2 from 'node:http2'
import type { IncomingHttpHeaders } from 'node:http'
import { isIP, type LookupFunction } from 'node:net'
import { connect as tlsConnect, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls'

/** What the HTTP client needs to know of one answer over HTTP/2. */
export interface H2Answer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/**
 * One verified HTTP/2 connection to an origin, multiplexing every request to it: verify's 200
 * health checks through the one public entry point become 200 streams on one TLS connection
 * (one handshake, one certificate verification) instead of 200 connections. ALBs speak HTTP/2 to
 * clients; a server that does not offer `h2` in ALPN makes `open` answer undefined and the caller
 * stays on HTTP/1.1.
 */
export class H2Origin {
  private active = 0
  private constructor(
    private readonly session: http2.ClientHttp2Session,
    readonly certificate: PeerCertificate | undefined,
  ) {
    // An idle session must not keep a finished command alive; a request in flight does (see request()).
    session.unref()
  }

  /**
   * A full, verified TLS handshake offering h2 and http/1.1 (ALPN). Rejects like an HTTPS request
   * would (refused, untrusted, wrong host: the socket's own error codes); undefined when the
   * server chose HTTP/1.1.
   */
  static open(o: { url: URL; secureContext?: SecureContext; lookup?: LookupFunction; timeoutMs: number }): Promise<H2Origin | undefined> {
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = tlsConnect({
        host: o.url.hostname,
        port: Number(o.url.port || 443),
        servername: isIP(o.url.hostname) ? undefined : o.url.hostname,
        ALPNProtocols: ['h2', 'http/1.1'],
        secureContext: o.secureContext,
        rejectUnauthorized: true,
        lookup: o.lookup,
      })
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })), o.timeoutMs)
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      socket.once('secureConnect', () => {
        clearTimeout(timer)
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy()
          return resolve(undefined)
        }
        const certificate = socket.getPeerCertificate(true)
        const session = http2.connect(o.url.origin, { createConnection: () => socket })
        // Errors surface on the streams; a session-level error only ends this origin's session.
        session.on('error', () => {})
        resolve(new H2Origin(session, certificate))
      })
    })
  }

  /** Usable for a new stream (not closing after a GOAWAY, not destroyed). */
  get usable(): boolean {
    return !this.session.closed && !this.session.destroyed
  }

  close(): void {
    this.session.destroy()
  }

  request(o: {
    url: URL
    method: string
    headers: Record<string, string>
    body?: string
    timeoutMs: number
    signal?: AbortSignal
    maxBody: number
  }): Promise<H2Answer> {
    const headers: http2.OutgoingHttpHeaders = { ':method': o.method, ':path': `${o.url.pathname}${o.url.search}`, ':authority': o.url.host }
    // HTTP/2 forbids connection-specific headers and carries the host in :authority.
    for (const [k, v] of Object.entries(o.headers)) if (!CONNECTION_HEADERS.has(k.toLowerCase())) headers[k.toLowerCase()] = v
    if (this.active++ === 0) this.session.ref()
    return new Promise<H2Answer>((resolve, reject) => {
      const stream = this.session.request(headers, { endStream: o.body === undefined })
      let status = 0
      let responseHeaders: IncomingHttpHeaders = {}
      const chunks: Buffer[] = []
      let size = 0
      const fail = (err: Error): void => {
        stream.close(http2.constants.NGHTTP2_CANCEL)
        reject(err)
      }
      const onAbort = (): void => fail(Object.assign(new Error('the request was aborted'), { code: 'ABORT_ERR' }))
      if (o.signal?.aborted) return onAbort()
      o.signal?.addEventListener('abort', onAbort, { once: true })
      stream.setTimeout(o.timeoutMs, () => fail(Object.assign(new Error(`no response within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })))
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0)
        responseHeaders = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':'))) as IncomingHttpHeaders
      })
      stream.on('data', (c: Buffer) => {
        size += c.length
        if (size <= o.maxBody) chunks.push(c)
      })
      stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) }))
      stream.on('error', reject)
      stream.on('close', () => {
        o.signal?.removeEventListener('abort', onAbort)
        // A stream closed without an answer (RST_STREAM, the session going away): say so rather than hang.
        if (!status) reject(Object.assign(new Error('the HTTP/2 stream closed before an answer'), { code: 'ECONNRESET' }))
      })
      if (o.body !== undefined) stream.end(o.body)
    }).finally(() => {
      if (--this.active === 0 && this.usable) this.session.unref()
    })
  }
}

const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te'])
