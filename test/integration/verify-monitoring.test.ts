/**
 * verify's monitoring checks against the real Prometheus and Alertmanager binaries. Grafana is
 * not installable on these machines (no Debian package, no downloads), so a small HTTP server
 * answering its documented /api/health document stands in for it — named as such here.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../harness/ports.js'
import { startPrometheus, waitForPrometheusTarget, type TestPrometheus } from '../harness/prometheus.js'
import { startHttpServer, type TestWebServer } from '../harness/https.js'
import { waitFor } from '../harness/wait.js'
import { runChecks, type CheckReport } from '../../src/checks/run.js'
import {
  alertmanagerHealthCheck,
  alertmanagerReceiversCheck,
  firingAlertsCheck,
  grafanaHealthCheck,
  prometheusTargetsCheck,
} from '../../src/checks/monitoring.js'
import type { Check } from '../../src/engine/types.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const alertmanager = inject('alertmanager')

let healthy: TestPrometheus
let broken: TestPrometheus
let grafanaStandIn: TestWebServer
let deadPort: number
const contexts: TestContext[] = []

async function one(check: Check, env: Record<string, unknown>): Promise<CheckReport> {
  const t = await testContext({ env })
  contexts.push(t)
  return (await runChecks(t.ctx, [check]))[0]!
}

const RULES = `groups:
  - name: autolytiq
    rules:
      - alert: TargetDown
        expr: up{job="deal-service"} == 0
        labels: { severity: critical, service: deal-service }
        annotations: { summary: deal-service is not scraped }
`

beforeAll(async () => {
  deadPort = await freePort()
  ;[healthy, broken] = await Promise.all([
    startPrometheus({ jobs: alertmanager ? [{ job: 'alertmanager', targets: [alertmanager.hostPort] }] : [] }),
    startPrometheus({ jobs: [{ job: 'deal-service', targets: [`127.0.0.1:${deadPort}`] }], rules: RULES }),
  ])
  grafanaStandIn = await startHttpServer((req, res) => {
    res.writeHead(req.url === '/api/health' ? 200 : 404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ commit: 'stand-in', database: 'ok', version: '10.4.2' }))
  })
  await Promise.all([
    waitForPrometheusTarget(healthy.url, 'prometheus'),
    alertmanager ? waitForPrometheusTarget(healthy.url, 'alertmanager') : undefined,
    waitForPrometheusTarget(broken.url, 'deal-service', { health: 'down' }),
  ])
  await waitFor(
    'TargetDown firing',
    async () => {
      const body = (await (await fetch(`${broken.url}/api/v1/alerts`)).json()) as { data: { alerts: { state: string }[] } }
      return body.data.alerts.some((a) => a.state === 'firing')
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
}, 90_000)

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  await Promise.all([healthy?.stop(), broken?.stop(), grafanaStandIn?.stop()])
})

describe('Prometheus', () => {
  it('targets: pass when every target is up', async () => {
    const r = await one(prometheusTargetsCheck(5000), { prometheusUrl: healthy.url })
    expect(r.status).toBe('pass')
    expect(r.detail).toBe(alertmanager ? '2 targets up (2 jobs)' : '1 targets up (1 jobs)')
  })

  it('targets: fail naming the down target and the scrape error', async () => {
    const r = await one(prometheusTargetsCheck(5000), { prometheusUrl: broken.url })
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(new RegExp(`^1 of 2 targets down: deal-service 127\\.0\\.0\\.1:${deadPort} \\(.*connection refused\\)$`))
  })

  it('alerts: none firing passes; a firing critical alert fails and is listed', async () => {
    expect(await one(firingAlertsCheck(5000), { prometheusUrl: healthy.url })).toMatchObject({ status: 'pass', detail: 'no alerts firing' })
    const r = await one(firingAlertsCheck(5000), { prometheusUrl: broken.url })
    expect(r.status).toBe('fail')
    expect(r.detail).toMatch(/^1 firing: TargetDown \(critical\) on deal-service since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  })

  // Without prometheusUrl the check goes through the API server's service proxy:
  // test/integration/monitoring-proxy.test.ts
  it('fails with connection refused when Prometheus is not there', async () => {
    const port = await freePort()
    expect(await one(prometheusTargetsCheck(5000), { prometheusUrl: `http://127.0.0.1:${port}` })).toMatchObject({
      status: 'fail',
      detail: `connection refused by 127.0.0.1:${port} (nothing listening)`,
    })
  })
})

describe.skipIf(!alertmanager)('Alertmanager', () => {
  it('is healthy and has a receiver that notifies someone', async () => {
    const health = await one(alertmanagerHealthCheck(5000), { alertmanagerUrl: alertmanager!.url })
    expect(health.status).toBe('pass')
    expect(health.detail).toMatch(/^Alertmanager \d+\.\d+\.\d+ up/)
    expect(await one(alertmanagerReceiversCheck(5000), { alertmanagerUrl: alertmanager!.url })).toMatchObject({ status: 'pass', detail: 'default (webhook)' })
  })
})

describe('Grafana (stand-in server: Grafana cannot be installed here)', () => {
  it('passes when /api/health reports the database ok', async () => {
    expect(await one(grafanaHealthCheck(5000), { grafanaUrl: grafanaStandIn.url })).toMatchObject({ status: 'pass', detail: 'Grafana 10.4.2 up, database ok' })
  })
})
