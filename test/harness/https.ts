import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { CertVariant, TestPki } from './tls-certs.js'

export interface TestWebServer {
  /** http(s)://127.0.0.1:PORT — connect here; send `hostname` as SNI / Host for TLS checks. */
  url: string
  /** https://HOSTNAME:PORT (resolvable only through the harness DNS server or a custom lookup). */
  hostnameUrl: string
  port: number
  hostname: string
  /** An HTTP/2 server (with HTTP/1.1 for clients that do not offer h2) when started with `http2`. */
  server: Server | Http2SecureServer
  stop(): Promise<void>
}

/** 200 "ok" on every path: a stand-in for a service health endpoint. */
export const okHandler: RequestListener = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ status: 'ok' }))
}

/** Redirects every request to `location` + the original path (http -> https tests). */
export function redirectHandler(location: string, status = 301): RequestListener {
  return (req, res) => {
    res.writeHead(status, { location: location.replace(/\/$/, '') + (req.url ?? '/') })
    res.end()
  }
}

async function listen(server: Server | Http2SecureServer, scheme: 'http' | 'https', hostname: string): Promise<TestWebServer> {
  // An HTTP/2 server has no closeAllConnections(): every connection is tracked for stop().
  const sockets = new Set<Socket>()
  server.on('connection', (sock: Socket) => {
    sockets.add(sock)
    sock.once('close', () => sockets.delete(sock))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // port 0: the kernel picks a free port, no race with other components
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    hostnameUrl: `${scheme}://${hostname}:${port}`,
    port,
    hostname,
    server,
    async stop() {
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * An HTTPS server presenting one certificate variant of `pki`: HTTP/1.1 only, or with `http2`
 * HTTP/2 and HTTP/1.1 chosen by ALPN, as an ALB's HTTPS listener.
 */
export function startHttpsServer(opts: { pki: TestPki; variant: CertVariant; handler?: RequestListener; http2?: boolean }): Promise<TestWebServer> {
  const leaf = opts.pki.leaf(opts.variant)
  // chain = leaf + CA so clients that trust the CA can verify the whole path
  const tls = { cert: leaf.cert + opts.pki.caCert, key: leaf.key }
  const handler = opts.handler ?? okHandler
  const server = opts.http2 ? createSecureServer({ ...tls, allowHTTP1: true }, handler as never) : createHttpsServer(tls, handler)
  return listen(server, 'https', opts.pki.hostname)
}

/** A plain HTTP server, e.g. `startHttpServer(redirectHandler(https.hostnameUrl))`. */
export function startHttpServer(handler: RequestListener = okHandler, hostname = '127.0.0.1'): Promise<TestWebServer> {
  return listen(createHttpServer(handler), 'http', hostname)
}
