/**
 * The Kubernetes clients reuse their TLS connections. client-node 1.x builds a new https.Agent for
 * every call, so each call paid a full handshake (a re-run of a finished deploy made hundreds);
 * src/clients/kube.ts shares one keep-alive agent per TLS setting. Checked against a real HTTPS
 * server that counts the TLS connections it accepts.
 */
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KubeClients } from '../../src/clients/kube.js'
import { createTestPki } from '../../src/sandbox/components/tls-certs.js'

const dir = mkdtempSync(join(tmpdir(), 'autolytiq-kube-conn-'))
let server: https.Server
let kubeconfig: string
let connections = 0

beforeAll(async () => {
  const pki = await createTestPki(join(dir, 'pki'))
  const leaf = pki.leaf('valid')
  server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const name = /\/namespaces\/([^/]+)$/.exec(req.url ?? '')?.[1] ?? 'unknown'
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
  })
  server.on('secureConnection', () => connections++)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const ca = Buffer.from(pki.caCert).toString('base64')
  kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, 'certificate-authority-data': ca } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  )
}, 60_000)

afterAll(() => {
  server.closeAllConnections()
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('Kubernetes API connections', () => {
  it('ten calls, one after another and in parallel, share keep-alive TLS connections', async () => {
    const core = await new KubeClients({ kubeconfig }).core()
    for (let i = 0; i < 5; i++) expect((await core.readNamespace({ name: `ns-${i}` })).metadata?.name).toBe(`ns-${i}`)
    expect(connections).toBe(1)
    await Promise.all(Array.from({ length: 5 }, (_, i) => core.readNamespace({ name: `p-${i}` })))
    // the parallel calls open at most one connection each, and the next call reuses one of them
    const afterParallel = connections
    expect(afterParallel).toBeLessThanOrEqual(6)
    await core.readNamespace({ name: 'last' })
    expect(connections).toBe(afterParallel)
  })
})
