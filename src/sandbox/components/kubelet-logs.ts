import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** What a container wrote: the current run's output, or the previous run's (`kubectl logs --previous`). */
export type ContainerLogSource = (namespace: string, pod: string, container: string, previous: boolean) => string | undefined

export interface KubeletLogServer {
  port: number
  stop(): Promise<void>
}

/**
 * The kubelet's container-log endpoint (`GET /containerLogs/{namespace}/{pod}/{container}`,
 * with tailLines, previous, timestamps, limitBytes), which the API server proxies `pods/log`
 * to — so `kubectl logs` and client-node's readNamespacedPodLog work against the simulated node.
 * HTTPS with a self-signed certificate, as a kubelet started without --tls-cert-file serves;
 * the API server does not verify kubelet serving certificates unless given
 * --kubelet-certificate-authority. Errors answer like the kubelet (404 text for an unknown
 * container, 400 for a previous run that does not exist). `follow` returns what there is and ends.
 */
export async function startKubeletLogServer(source: ContainerLogSource): Promise<KubeletLogServer> {
  const dir = mkdtempSync(join(tmpdir(), 'autolytiq-kubelet-'))
  let key: string
  let cert: string
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '365',
        '-subj',
        '/CN=sim-node-kubelet',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    )
    key = readFileSync(join(dir, 'key.pem'), 'utf8')
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const server: Server = createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://kubelet')
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname)
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n')
      return
    }
    const [namespace, pod, container] = m.slice(1).map(decodeURIComponent) as [string, string, string]
    const previous = url.searchParams.get('previous') === 'true'
    const text = source(namespace, pod, container, previous)
    if (text === undefined) {
      const why = previous
        ? `previous terminated container "${container}" in pod "${pod}" not found`
        : `container "${container}" in pod "${pod}" is not available`
      res.writeHead(previous ? 400 : 404, { 'content-type': 'text/plain' }).end(why)
      return
    }
    let lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    const tail = Number(url.searchParams.get('tailLines'))
    if (url.searchParams.has('tailLines') && tail >= 0) lines = tail === 0 ? [] : lines.slice(-tail)
    let body = lines.map((l) => `${l}\n`).join('')
    const limit = Number(url.searchParams.get('limitBytes'))
    if (limit > 0) body = body.slice(0, limit)
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
