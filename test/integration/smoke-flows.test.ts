/**
 * The catalog's smoke flows run by the smoke.tests step over real HTTPS against a real server
 * implementing the smoke contract (test/fixtures/smoke-server.ts). Asserts what the server saw:
 * data created by a run is gone afterwards, failures name the field, nothing secret is stored.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { Catalog } from '../../src/config/catalog.js'
import { StepFailedError } from '../../src/engine/errors.js'
import { smokeTests } from '../../src/steps/verify/smoke.js'
import { startSmokeServer, type SmokeServer } from '../fixtures/smoke-server.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const HOST = 'api.sandbox.autolytiq.local'
let dir: string
let pki: TestPki
let dns: TestDnsServer
let api: SmokeServer
const contexts: TestContext[] = []

async function ctx(catalog?: Catalog) {
  const t = await testContext({ env: { apiUrl: `https://${HOST}:${api.port}`, dnsServers: [dns.server], caFile: pki.caCertPath }, catalog })
  contexts.push(t)
  return t
}

const params = (o: Record<string, unknown> = {}) => smokeTests.params.parse(o)
const smokeUsers = () => [...api.users.values()].filter((u) => u.email.endsWith('@example.test'))
const smokeDeals = () => [...api.deals.values()].filter((d) => d.customerName === 'Smoke Test')

beforeAll(async () => {
  dir = makeTempDir('smoke')
  pki = await createTestPki(join(dir, 'pki'))
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'A', address: '127.0.0.1' }] } })
  api = await startSmokeServer({ pki })
})

afterEach(() => {
  api.faults.clear()
  api.requests.length = 0
})

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  await Promise.all([api?.stop(), dns?.stop()])
  removeTempDir(dir)
})

describe('smoke.tests', () => {
  it('runs every catalog flow, passes, and leaves no smoke data behind', async () => {
    const t = await ctx()
    expect(await smokeTests.check(t.ctx, params())).toMatchObject({ status: 'todo', detail: 'not run for v1.0.0' })
    const out = (await smokeTests.run(t.ctx, params())) as { result: string; flows: { id: string; status: string }[] }
    expect(out.result).toBe('pass')
    expect(out.flows.map((f) => `${f.id}:${f.status}`)).toEqual([
      'user-registration:pass',
      'user-login:pass',
      'deal-listing:pass',
      'deal-creation:pass',
      'tax-calculation:pass',
      'customer-search:pass',
      'inventory-search:pass',
      'email-send:pass',
    ])
    // What the server saw: the user and the deal were created, then deleted, newest first.
    const deletes = api.requests.filter((r) => r.startsWith('DELETE'))
    expect(deletes).toHaveLength(2)
    expect(deletes[0]).toMatch(/^DELETE \/api\/v1\/deals\/[0-9a-f-]{36}$/)
    expect(deletes[1]).toMatch(/^DELETE \/api\/v1\/users\/[0-9a-f-]{36}$/)
    expect(smokeUsers()).toEqual([])
    expect(smokeDeals()).toEqual([])
    expect(api.outbox.at(-1)).toMatchObject({ to: 'smoke-test@example.test', subject: 'autolytiq smoke test' })
    // Done for this release; the state file holds no token and no password.
    expect(await smokeTests.check(t.ctx, params())).toMatchObject({ status: 'done' })
    const stateText = readFileSync(t.ctx.state.location, 'utf8')
    expect(stateText).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/)
    expect(stateText).not.toMatch(/Smk-/)
  })

  it('fails on wrong tax values, naming the fields, and still cleans up', async () => {
    const t = await ctx()
    api.faults.set('POST /api/v1/deals/tax', { status: 200, body: { rate: 0.095, tax: 2700, total: 32700 } })
    const err = await smokeTests.run(t.ctx, params()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StepFailedError)
    expect((err as Error).message).toBe('tax-calculation failed: tax: expected 2850, got 2700; total: expected 32850, got 32700')
    expect(smokeUsers()).toEqual([])
    expect(smokeDeals()).toEqual([])
    expect(await smokeTests.check(t.ctx, params())).toMatchObject({ status: 'todo', detail: 'last run failed' })
  })

  it('skips flows that need the JWT when login fails, and keeps the undeletable user for the next run', async () => {
    const t = await ctx()
    api.faults.set('POST /api/v1/auth/login', { status: 500, body: { error: 'auth backend down' } })
    const err = (await smokeTests.run(t.ctx, params()).catch((e: unknown) => e)) as Error
    expect(err.message).toContain('user-login failed: expected HTTP 200, got 500: {"error":"auth backend down"}')
    expect(err.message).toContain('deal-listing skipped: needs ${token} saved by an earlier flow, which did not pass')
    expect(err.message).toMatch(/cleanup DELETE \/api\/v1\/users\/[0-9a-f-]{36} failed: HTTP 401 \(retried on the next run\)/)
    expect(smokeUsers()).toHaveLength(1)
    // The next run (auth fixed) sees the leftover, deletes it with its own fresh token.
    api.faults.clear()
    expect(await smokeTests.check(t.ctx, params())).toMatchObject({ status: 'drift', detail: '1 smoke resource(s) from an interrupted run still to delete' })
    const out = (await smokeTests.run(t.ctx, params())) as { result: string; pendingCleanup: unknown[] }
    expect(out.result).toBe('pass')
    expect(out.pendingCleanup).toEqual([])
    expect(smokeUsers()).toEqual([])
  })

  it('refuses to send smoke email to a production-looking address', async () => {
    const base = (await ctx()).ctx.catalog
    const flows = base.smoke.map((f) => (f.id === 'email-send' ? { ...f, body: { ...f.body, to: 'ops@autolytiq.com' } } : f))
    const t = await ctx(new Catalog(base.services, base.registryPrefix, flows))
    const sent = api.outbox.length
    const err = (await smokeTests.run(t.ctx, params({ flows: ['user-registration', 'user-login', 'email-send'] })).catch((e: unknown) => e)) as Error
    expect(err.message).toBe('email-send failed: refusing to send email to ops@autolytiq.com: smoke tests mail only reserved test domains (example.test)')
    expect(api.outbox.length).toBe(sent)
    expect(smokeUsers()).toEqual([])
  })

  it('plans the exact requests for --dry-run', async () => {
    const t = await ctx()
    const plan = await smokeTests.plan(t.ctx, params({ flows: ['user-registration', 'deal-listing'] }))
    expect(plan).toEqual([
      `POST https://${HOST}:${api.port}/api/v1/users/register → expect 201 and id, email`,
      `  cleanup: DELETE https://${HOST}:${api.port}/api/v1/users/\${userId}`,
      `GET https://${HOST}:${api.port}/api/v1/deals (Bearer \${token}) → expect 200 and items`,
    ])
    await expect(smokeTests.plan(t.ctx, params({ flows: ['nope'] }))).rejects.toThrow('unknown smoke flow(s): nope')
  })
})
