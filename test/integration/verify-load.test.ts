/**
 * load.baseline with autocannon (as a library) against a real HTTPS server reached through the
 * test DNS server: the baseline is saved in state, and a slower or failing server is flagged as a
 * regression against it. Runs of 2 s instead of the production default of 60 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { StepFailedError } from '../../src/engine/errors.js'
import { baselineState, loadBaseline } from '../../src/steps/verify/load.js'
import { regressions, type LoadResult } from '../../src/load/baseline.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const HOST = 'api.sandbox.autolytiq.local'
let dir: string
let pki: TestPki
let dns: TestDnsServer
let gateway: TestGateway
let t: TestContext

const params = (o: Record<string, unknown> = {}) => loadBaseline.params.parse({ durationSeconds: 2, ...o })

beforeAll(async () => {
  dir = makeTempDir('load')
  pki = await createTestPki(join(dir, 'pki'))
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'A', address: '127.0.0.1' }] } })
  gateway = await startGateway(pki)
  t = await testContext({ env: { apiUrl: `https://${HOST}:${gateway.port}`, dnsServers: [dns.server], caFile: pki.caCertPath } })
})

afterAll(async () => {
  t?.cleanup()
  await Promise.all([gateway?.stop(), dns?.stop()])
  removeTempDir(dir)
})

describe('load.baseline', () => {
  it('measures p50/p95/p99, req/s and error rate and saves them as the baseline', async () => {
    expect(await loadBaseline.check(t.ctx, params())).toMatchObject({ status: 'todo', detail: 'no baseline yet' })
    const allHits = () => [...gateway.hits.values()].reduce((a, b) => a + b, 0)
    const before = allHits()
    await loadBaseline.run(t.ctx, params())
    const { baseline, last, regressions: found } = baselineState(t.ctx)
    expect(found).toEqual([])
    expect(last).toEqual(baseline)
    const b = baseline!
    expect(b).toMatchObject({ url: `https://${HOST}:${gateway.port}/health`, release: 'v1.0.0', connections: 10, errors: 0, errorRate: 0 })
    expect(b.durationSeconds).toBeGreaterThanOrEqual(2)
    expect(b.requests).toBeGreaterThan(20)
    // The server really answered that many requests, spread over /health and every service's health path.
    expect(allHits() - before).toBeGreaterThanOrEqual(b.requests)
    expect(gateway.hits.get('/api/v1/deals/health')).toBeGreaterThan(0)
    // No Prometheus in this environment: no per-service baselines, and the output says so.
    expect(baselineState(t.ctx).services).toBeUndefined()
    expect(t.logs).toContain('per-service baselines: none (prometheusUrl is not set; verify compares services with the platform figures)')
    expect(b.rps).toBeCloseTo(b.requests / b.durationSeconds, 0)
    expect(b.p50).toBeGreaterThan(0)
    expect(b.p50).toBeLessThanOrEqual(b.p95)
    expect(b.p95).toBeLessThanOrEqual(b.p99)
    // Saved in the state file; the same release is then done.
    await t.ctx.state.save()
    expect(await loadBaseline.check(t.ctx, params())).toMatchObject({ status: 'done' })
  })

  it('flags a slower server as a regression and keeps the old baseline', async () => {
    const base = baselineState(t.ctx).baseline!
    gateway.answers.set('/health', { delayMs: Math.max(100, base.p99 * 3) })
    // Only the platform's /health is slowed: measure it alone (no per-service paths).
    await loadBaseline.run(t.ctx, params({ always: true, perService: false }))
    const s = baselineState(t.ctx)
    expect(s.baseline).toEqual(base)
    expect(s.last!.p50).toBeGreaterThanOrEqual(100)
    expect(s.regressions).toContainEqual(expect.stringMatching(/^p50 latency [\d.]+ ms vs baseline [\d.]+ ms \(\+\d+%\)$/))
    expect(s.regressions).toContainEqual(expect.stringMatching(/^throughput [\d.]+ req\/s vs baseline [\d.]+ req\/s \(-\d+%\)$/))
    expect(t.warnings.some((w) => w.startsWith('load regression: p50 latency'))).toBe(true)
  })

  it('fails the step on errors when asked to, naming the error rate', async () => {
    gateway.answers.set('/health', { status: 503, body: '{"status":"unavailable"}' })
    const err = await loadBaseline.run(t.ctx, params({ always: true, failOnRegression: true, perService: false })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StepFailedError)
    expect((err as Error).message).toMatch(/^performance regressed against the v1\.0\.0 baseline: .*error rate 100\.00% vs baseline 0\.00%/)
    gateway.answers.delete('/health')
  })
})

describe('regression rules', () => {
  const r = (o: Partial<LoadResult>): LoadResult => ({
    url: 'u',
    release: 'v1',
    at: '',
    connections: 10,
    durationSeconds: 60,
    requests: 6000,
    rps: 100,
    p50: 10,
    p95: 20,
    p99: 30,
    errors: 0,
    errorRate: 0,
    ...o,
  })
  it('ignore noise below the thresholds and floors', () => {
    expect(regressions(r({}), r({ p50: 11.5, p95: 23, p99: 35, rps: 85, errorRate: 0.005 }))).toEqual([])
    // +100% of a sub-millisecond latency is not worth a page.
    expect(regressions(r({ p50: 0.5 }), r({ p50: 1 }))).toEqual([])
  })
})
