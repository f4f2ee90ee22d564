import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A real local HTTP server whose answer the test switches (healthy, failing, slow). */
export interface SwitchServer {
  url: string
  status: number
  delayMs: number
  requests: { path: string; headers: IncomingHttpHeaders }[]
  close(): Promise<void>
}

export async function startSwitchServer(initialStatus = 200): Promise<SwitchServer> {
  const state: SwitchServer = { url: '', status: initialStatus, delayMs: 0, requests: [], close: async () => {} }
  const server: Server = createServer((req, res) => {
    state.requests.push({ path: req.url ?? '', headers: req.headers })
    setTimeout(() => {
      res.writeHead(state.status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: state.status === 200 ? 'ok' : 'unhealthy' }))
    }, state.delayMs)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return state
}
