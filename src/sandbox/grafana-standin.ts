import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Grafana has no build that can be installed here (no Debian package, no download), so the
 * sandbox answers Grafana's health API (GET /api/health) the way Grafana does. The dashboards
 * themselves are deployed into the cluster by the monitoring steps like everything else.
 */
export async function startGrafanaStandin(): Promise<{ port: number; url: string; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://grafana').pathname
    if (path === '/api/health') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ commit: 'sandbox', database: 'ok', version: '11.0.0-sandbox' }))
      return
    }
    res.writeHead(path === '/' || path === '/login' ? 200 : 404, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>Grafana (autolytiq sandbox stand-in)</title>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
