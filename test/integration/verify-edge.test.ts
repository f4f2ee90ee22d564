/**
 * verify's edge and service checks against real local servers: an HTTPS gateway with real
 * certificates (valid, expired, wrong host, expiring), a plain-HTTP redirect listener and a real
 * DNS server. Each check must pass on the healthy server and fail with a precise message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { IncomingMessage, Server } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { okHandler, redirectHandler, startHttpServer, startHttpsServer, type TestWebServer } from '../harness/https.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { freePort } from '../harness/ports.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runChecks, type CheckReport } from '../../src/checks/run.js'
import { serviceHealthCheck } from '../../src/checks/http.js'
import { tlsCheck } from '../../src/checks/tls.js'
import { HttpClient } from '../../src/clients/http.js'
import { redirectCheck } from '../../src/checks/redirect.js'
import { dnsCheck } from '../../src/checks/dns.js'
import type { Check } from '../../src/engine/types.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const HOST = 'api.sandbox.autolytiq.local'
const ALB = 'k8s-autolytiq-0123456789.us-east-1.elb.amazonaws.com'
const DAY = 86_400_000

let dir: string
let pki: TestPki
let gateway: TestGateway
let dns: TestDnsServer
const servers: TestWebServer[] = []
const contexts: TestContext[] = []

/** A context whose API is the given HTTPS port (resolved through the test DNS server). */
async function ctxFor(env: Record<string, unknown> = {}, ingress: string | null = ALB) {
  const t = await testContext({
    env: { apiUrl: `https://${HOST}:${gateway.port}`, dnsServers: [dns.server], caFile: pki.caCertPath, ...env },
  })
  if (ingress) t.ctx.state.setOutputs('k8s.ingress-address', { hostname: ingress })
  contexts.push(t)
  return t.ctx
}

async function one(check: Check, env: Record<string, unknown> = {}, ingress: string | null = ALB): Promise<CheckReport> {
  const ctx = await ctxFor(env, ingress)
  const [r] = await runChecks(ctx, [check])
  return r!
}

beforeAll(async () => {
  dir = makeTempDir('verify-edge')
  pki = await createTestPki(join(dir, 'pki'))
  gateway = await startGateway(pki)
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'CNAME', target: ALB }], [ALB]: [{ type: 'A', address: '127.0.0.1' }] } })
})

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  await Promise.all([gateway?.stop(), dns?.stop(), ...servers.map((s) => s.stop())])
  removeTempDir(dir)
})

describe('service health through the API URL', () => {
  const deal = { name: 'deal-service', healthPath: '/api/v1/deals/health', kind: 'Deployment' } as const
  const check = (timeoutMs = 2000) => serviceHealthCheck({ ...deal, description: '', ecrRepository: 'x', dependsOn: [] }, timeoutMs)

  it('passes on a healthy endpoint', async () => {
    gateway.answers.delete(deal.healthPath)
    const r = await one(check())
    expect(r.status).toBe('pass')
    expect(r.detail).toMatch(/^status "ok" \(\d+ ms\)$/)
    expect(r.layer).toBe('services')
  })

  it('fails on HTTP 500 and shows what the service said', async () => {
    gateway.answers.set(deal.healthPath, { status: 500, body: '{"error":"database unavailable"}' })
    const r = await one(check())
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(/^HTTP 500: \{"error":"database unavailable"\}/)
  })

  it('fails on a 200 whose body reports an unhealthy dependency', async () => {
    gateway.answers.set(deal.healthPath, { body: JSON.stringify({ status: 'ok', checks: { database: { status: 'down' } } }) })
    const r = await one(check())
    expect(r.status).toBe('fail')
    expect(r.detail).toContain('database is "down"')
  })

  it('fails on a 200 that is not a health answer (catch-all HTML page)', async () => {
    gateway.answers.set(deal.healthPath, { body: '<html><body>Welcome</body></html>' })
    const r = await one(check())
    expect(r.status).toBe('fail')
    expect(r.detail).toContain('HTTP 200 but the body is not a health answer: <html>')
  })

  it('fails when the answer is slower than the check timeout, without waiting for it', async () => {
    gateway.answers.set(deal.healthPath, { delayMs: 3000 })
    const t0 = Date.now()
    const r = await one(check(300))
    expect(r.status).toBe('fail')
    expect(r.detail).toBe('no answer within 300 ms')
    expect(Date.now() - t0).toBeLessThan(2000)
  })

  it('fails with "connection refused" when nothing listens', async () => {
    const port = await freePort()
    const r = await one(check(), { apiUrl: `https://${HOST}:${port}` })
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(`connection refused by ${HOST}:${port} (nothing listening)`)
  })
})

describe('TLS of the API domain', () => {
  const serve = async (variant: Parameters<typeof startHttpsServer>[0]['variant']) => {
    const s = await startHttpsServer({ pki, variant })
    servers.push(s)
    return `https://${HOST}:${s.port}`
  }

  it('passes on a valid certificate and reports its expiry and issuer', async () => {
    const r = await one(tlsCheck(2000))
    expect(r.status).toBe('pass')
    expect(r.detail).toMatch(/^valid until \d{4}-\d\d-\d\d \(8\d days\), issuer autolytiq test CA, names /)
  })

  it('fails on an expired certificate', async () => {
    const r = await one(tlsCheck(2000), { apiUrl: await serve('expired') })
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(new RegExp(`^certificate for ${HOST} expired on \\d{4}-\\d\\d-\\d\\d \\(1 day ago\\)$`))
  })

  it('fails on a certificate for another host', async () => {
    const r = await one(tlsCheck(2000), { apiUrl: await serve('wrong-host') })
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(`certificate is for wrong-host.invalid, not ${HOST} (wrong host)`)
  })

  it('fails under 7 days left (the expiring-soon certificate has just under 5)', async () => {
    const r = await one(tlsCheck(2000), { apiUrl: await serve('expiring-soon') })
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(new RegExp(`^certificate for ${HOST} expires in 4 d 2\\d h \\(\\d{4}-\\d\\d-\\d\\d\\); renew it now$`))
  })

  it('warns under 30 days left', async () => {
    const leaf = await pki.issue({
      name: 'twenty-days',
      sans: [HOST],
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 20 * DAY + 3_600_000),
    })
    const s = await startHttpsServer({ pki: { ...pki, leaf: () => leaf }, variant: 'valid' })
    servers.push(s)
    const r = await one(tlsCheck(2000), { apiUrl: `https://${HOST}:${s.port}` })
    expect(r.status).toBe('warn')
    expect(r.detail).toMatch(/expires in 20 days \(\d{4}-\d\d-\d\d\); renewal is overdue$/)
  })

  it('sees the certificate on every new connection: the TLS check never resumes a session (Node gives a resumed one no peer certificate)', async () => {
    // a server that closes each connection: every request is a new handshake, which would resume
    const s = await startHttpsServer({ pki, variant: 'valid', handler: (_req, res) => (res.setHeader('connection', 'close'), res.end('ok')) })
    servers.push(s)
    const client = new HttpClient({})
    try {
      for (let i = 0; i < 3; i++) {
        const r = await client.request({ url: `https://127.0.0.1:${s.port}/`, timeoutMs: 5000, rejectUnauthorized: false })
        expect(r.certificate?.valid_to, `request ${i + 1}`).toEqual(expect.any(String))
      }
    } finally {
      client.close()
    }
  })

  it('fails when the CA is not trusted (no caFile)', async () => {
    const r = await one(tlsCheck(2000), { caFile: undefined })
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(
      /^certificate chain for api\.sandbox\.autolytiq\.local is not trusted: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/,
    )
  })
})

describe('TLS check: a full handshake of its own every time (never a pooled connection or a resumed session)', () => {
  /**
   * One client across rounds, as in `verify --watch` or deploy's repeated `verify.all`: the server
   * notes for every TLS connection whether it was a full handshake, and can change its certificate.
   */
  async function swappable() {
    const s = await startHttpsServer({ pki, variant: 'valid' })
    servers.push(s)
    const server = s.server as Server
    const handshakes: { resumed: boolean }[] = []
    server.on('secureConnection', (sock: TLSSocket) => handshakes.push({ resumed: sock.isSessionReused() }))
    const serve = (variant: 'valid' | 'wrong-host' | 'expired') => {
      const leaf = pki.leaf(variant)
      ;(s.server as unknown as { setSecureContext(o: object): void }).setSecureContext({ cert: leaf.cert + pki.caCert, key: leaf.key })
    }
    return { server, handshakes, serve, url: `https://${HOST}:${s.port}` }
  }

  it('judges the certificate served now: valid, then the server switches to a wrong-host one, then an expired one', async () => {
    const { server, handshakes, serve, url } = await swappable()
    const ctx = await ctxFor({ apiUrl: url })
    const tls = tlsCheck(2000)
    expect((await runChecks(ctx, [tls]))[0]!.status).toBe('pass')
    serve('wrong-host')
    const [wrong] = await runChecks(ctx, [tls])
    expect(wrong!.detail).toBe(`certificate is for wrong-host.invalid, not ${HOST} (wrong host)`)
    serve('expired')
    const [expired] = await runChecks(ctx, [tls])
    expect(expired!.detail).toMatch(new RegExp(`^certificate for ${HOST} expired on `))
    serve('valid')
    server.closeIdleConnections()
    expect((await runChecks(ctx, [tls]))[0]!.status).toBe('pass')
    // Four rounds, four connections, four full handshakes.
    expect(handshakes).toEqual([{ resumed: false }, { resumed: false }, { resumed: false }, { resumed: false }])
  })

  it('never resumes its own earlier session when the server closed the idle connection', async () => {
    const { server, handshakes, url } = await swappable()
    const ctx = await ctxFor({ apiUrl: url })
    for (let round = 0; round < 3; round++) {
      const [r] = await runChecks(ctx, [tlsCheck(2000)])
      expect(r!.status, r!.detail).toBe('pass')
      server.closeIdleConnections()
    }
    expect(handshakes).toEqual([{ resumed: false }, { resumed: false }, { resumed: false }])
  })

  it('its unverified connection never lends a session to a verified request: a wrong-host certificate fails the health check after it', async () => {
    const { handshakes, serve, url } = await swappable()
    serve('wrong-host')
    const ctx = await ctxFor({ apiUrl: url })
    const deal = { name: 'deal-service', healthPath: '/api/v1/deals/health', kind: 'Deployment' as const, description: '', ecrRepository: 'x', dependsOn: [] }
    const [tls] = await runChecks(ctx, [tlsCheck(2000)])
    expect(tls!.detail).toBe(`certificate is for wrong-host.invalid, not ${HOST} (wrong host)`)
    const [health] = await runChecks(ctx, [serviceHealthCheck(deal, 2000)])
    expect(health!.status).toBe('fail')
    expect(health!.detail).toMatch(/^the TLS certificate is not valid for this host name \(ERR_TLS_CERT_ALTNAME_INVALID\)/)
    expect(handshakes.every((h) => !h.resumed)).toBe(true)
  })

  it('over HTTP/1.1 (the server offers no h2) health checks still share connections: 20 checks after the TLS check, at most one more full handshake', async () => {
    const { server, handshakes, url } = await swappable()
    const versions: string[] = []
    server.on('request', (req: IncomingMessage) => versions.push(req.httpVersion))
    const ctx = await ctxFor({ apiUrl: url })
    const checks = Array.from({ length: 20 }, (_, i) =>
      serviceHealthCheck(
        { name: `svc-${i}`, healthPath: `/api/v1/svc-${i}/health`, kind: 'Deployment', description: '', ecrRepository: 'x', dependsOn: [] },
        5000,
      ),
    )
    const reports = await runChecks(ctx, [tlsCheck(5000), ...checks])
    expect(reports.filter((r) => r.status !== 'pass').map((r) => r.detail)).toEqual([])
    expect(handshakes.filter((h) => !h.resumed).length).toBeLessThanOrEqual(2)
    expect(new Set(versions)).toEqual(new Set(['1.1']))
  })

  it('over HTTP/2 (the gateway offers h2, as an ALB does): 200 health checks are streams on one verified connection, the TLS check has its own', async () => {
    const tlsConnections: string[] = []
    const onTls = (sock: TLSSocket) => tlsConnections.push(sock.alpnProtocol || 'none')
    const versions: string[] = []
    const onRequest = (req: IncomingMessage) => versions.push(req.httpVersion)
    gateway.server.on('secureConnection', onTls)
    gateway.server.on('request', onRequest)
    try {
      const ctx = await ctxFor()
      const checks = Array.from({ length: 200 }, (_, i) =>
        serviceHealthCheck(
          { name: `svc-${i}`, healthPath: `/api/v1/svc-${i}/health`, kind: 'Deployment', description: '', ecrRepository: 'x', dependsOn: [] },
          10_000,
        ),
      )
      const reports = await runChecks(ctx, [tlsCheck(10_000), ...checks])
      expect(reports.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.detail}`)).toEqual([])
      // One h2 connection for the 200 health checks; the TLS check's own connection offers no ALPN (HTTP/1.1).
      expect(tlsConnections.sort()).toEqual(['h2', 'none'])
      expect(versions.filter((v) => v === '2.0')).toHaveLength(200)
      expect(versions.filter((v) => v === '1.1')).toHaveLength(1)
    } finally {
      gateway.server.off('secureConnection', onTls)
      gateway.server.off('request', onRequest)
    }
  })
})

describe('HTTP → HTTPS redirect', () => {
  const listener = async (handler: Parameters<typeof startHttpServer>[0]) => {
    const s = await startHttpServer(handler, HOST)
    servers.push(s)
    return `http://${HOST}:${s.port}`
  }

  it('passes on a 301 to https', async () => {
    const http = await listener(redirectHandler(`https://${HOST}`))
    const r = await one(redirectCheck(2000), { apiHttpUrl: http })
    expect(r.status).toBe('pass')
    expect(r.detail).toBe(`301 → https://${HOST}/health`)
  })

  it('fails when plain HTTP is served without a redirect', async () => {
    const r = await one(redirectCheck(2000), { apiHttpUrl: await listener(okHandler) })
    expect(r.status).toBe('fail')
    expect(r.detail).toBe('no redirect: plain HTTP answered 200 instead of 301/308 to https')
  })

  it('warns on a temporary redirect', async () => {
    const r = await one(redirectCheck(2000), { apiHttpUrl: await listener(redirectHandler(`https://${HOST}`, 302)) })
    expect(r.status).toBe('warn')
    expect(r.detail).toContain('302 → https://')
  })

  it('fails when the redirect points to plain http', async () => {
    const r = await one(redirectCheck(2000), { apiHttpUrl: await listener(redirectHandler(`http://${HOST}:8080`, 301)) })
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(`HTTP 301 redirects to http://${HOST}:8080/health, not to https`)
  })

  it('fails when no HTTP listener exists', async () => {
    const port = await freePort()
    const r = await one(redirectCheck(2000), { apiHttpUrl: `http://${HOST}:${port}` })
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(`no redirect: connection refused by ${HOST}:${port} (nothing listening)`)
  })
})

describe('DNS: API domain → ingress', () => {
  it('passes when the API name is a CNAME to the ingress hostname', async () => {
    const r = await one(dnsCheck(2000), {}, ALB)
    expect(r.status).toBe('pass')
    expect(r.detail).toBe(`${HOST} is a CNAME to the ingress ${ALB}`)
  })

  it('passes when an alias A record gives the ingress addresses', async () => {
    dns.set('alias.sandbox.autolytiq.local', [{ type: 'A', address: '127.0.0.1' }])
    const r = await one(dnsCheck(2000), { apiDomain: 'alias.sandbox.autolytiq.local' }, ALB)
    expect(r.status).toBe('pass')
    expect(r.detail).toBe(`alias.sandbox.autolytiq.local → 127.0.0.1, the addresses of the ingress ${ALB}`)
  })

  it('fails when the name does not resolve', async () => {
    const r = await one(dnsCheck(2000), { apiDomain: 'missing.sandbox.autolytiq.local' }, ALB)
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(`missing.sandbox.autolytiq.local does not resolve via ${dns.server} (no A or CNAME record)`)
  })

  it('fails when the name points at another load balancer', async () => {
    dns.set('stale.sandbox.autolytiq.local', [{ type: 'CNAME', target: 'old-alb.elb.amazonaws.com' }])
    dns.set('old-alb.elb.amazonaws.com', [{ type: 'A', address: '10.9.9.9' }])
    const r = await one(dnsCheck(2000), { apiDomain: 'stale.sandbox.autolytiq.local' }, ALB)
    expect(r.status).toBe('fail')
    expect(r.detail).toBe(
      `stale.sandbox.autolytiq.local → CNAME old-alb.elb.amazonaws.com, but the ingress ${ALB} is at 127.0.0.1: DNS points at the wrong load balancer`,
    )
  })

  it('warns when the ingress hostname was never recorded', async () => {
    const ctx = await ctxFor({}, null)
    const [r] = await runChecks(ctx, [dnsCheck(2000)])
    expect(r!.status).toBe('warn')
    expect(r!.detail).toContain('ingress address unknown')
  })

  it('compares with the ingress IP when the load balancer publishes an address, not a name', async () => {
    const ctx = await ctxFor({ apiDomain: 'alias.sandbox.autolytiq.local' }, null)
    ctx.state.setOutputs('k8s.ingress-address', { ip: '127.0.0.1', ingress: 'autolytiq-ingress' })
    expect((await runChecks(ctx, [dnsCheck(2000)]))[0]).toMatchObject({
      status: 'pass',
      detail: 'alias.sandbox.autolytiq.local → 127.0.0.1, the ingress address',
    })
    ctx.state.setOutputs('k8s.ingress-address', { ip: '10.1.1.1' })
    expect((await runChecks(ctx, [dnsCheck(2000)]))[0]).toMatchObject({
      status: 'fail',
      detail: 'alias.sandbox.autolytiq.local → A 127.0.0.1, but the ingress is at 10.1.1.1: DNS points at the wrong load balancer',
    })
  })
})
