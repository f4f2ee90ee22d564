import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface WebhookSink {
  /** POST notifications here (e.g. Alertmanager's webhook receiver). */
  url: string
  /** Everything POSTed so far, parsed as JSON when possible. Also served as JSON on GET `url`, so
   *  test workers can read what the sink in the global-setup process received. */
  received(): unknown[]
  /** Resolves with the first payload matching `predicate` (event-driven, no polling). */
  waitFor(predicate: (payload: unknown) => boolean, timeoutMs?: number): Promise<unknown>
  stop(): Promise<void>
}

/** A tiny HTTP receiver that records webhook deliveries. */
export async function startWebhookSink(): Promise<WebhookSink> {
  const payloads: unknown[] = []
  const waiters: { predicate: (p: unknown) => boolean; resolve: (p: unknown) => void }[] = []
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(payloads))
      return
    }
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      let payload: unknown = body
      try {
        payload = JSON.parse(body)
      } catch {
        // keep the raw text
      }
      payloads.push(payload)
      for (const w of [...waiters]) {
        if (w.predicate(payload)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(payload)
        }
      }
      res.writeHead(200)
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    received: () => [...payloads],
    waitFor(predicate, timeoutMs = 15_000) {
      const hit = payloads.find(predicate)
      if (hit !== undefined) return Promise.resolve(hit)
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve: (p: unknown) => (clearTimeout(timer), resolve(p)) }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1)
          reject(new Error(`webhook sink: no matching delivery within ${timeoutMs} ms (got ${payloads.length})`))
        }, timeoutMs)
        waiters.push(w)
      })
    },
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
