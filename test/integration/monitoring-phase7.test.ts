/**
 * Phase 7 against real components: monitoring.deploy on the real control plane (pods made Ready
 * by the node simulator), monitoring.targets against a real Prometheus scraping real /metrics
 * endpoints, monitoring.alert-test against the harness' real Alertmanager and its webhook sink.
 */
import { createServer, type Server } from 'node:http'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, NetworkingV1Api, type KubeConfig } from '@kubernetes/client-node'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { REPO } from '../helpers/cli.js'
import { CERT_ARN, k8sProject, kubeConfigFrom, openState, runSteps, seedEarlierPhases, useProject, type K8sProject } from '../helpers/k8s.js'
import { startPrometheus, type TestPrometheus } from '../harness/prometheus.js'
import { waitFor } from '../harness/wait.js'

const kube = inject('kube')
const alertmanager = inject('alertmanager')
const catalog = loadCatalog(REPO)
const WEBHOOK_VAR = 'AUTOLYTIQ_TEST_SLACK_WEBHOOK'
const WEBHOOK = 'https://hooks.slack.com/services/T0TEST/B0TEST/phase7webhook0123456789'

function runbook(steps: { uses: string; with?: Record<string, unknown> }[]): Record<string, unknown> {
  return { name: 'monitoring-test', title: 'phase 7', description: 'monitoring steps', phases: [{ id: 'monitoring', number: 7, title: 'Monitoring', steps }] }
}

async function writeRunbook(p: K8sProject, steps: { uses: string; with?: Record<string, unknown> }[]): Promise<void> {
  writeFileSync(join(p.root, 'runbooks', 'monitoring-test.yaml'), stringify(runbook(steps)))
}

describe.skipIf(!kube)('monitoring.deploy on the real control plane', () => {
  let project: K8sProject
  let kc: KubeConfig

  beforeAll(async () => {
    process.env[WEBHOOK_VAR] = WEBHOOK
    project = k8sProject(kube!.kubeconfigPath, { slackWebhook: { env: WEBHOOK_VAR } })
    useProject(project)
    await seedEarlierPhases(project)
    await writeRunbook(project, [{ uses: 'monitoring.deploy', with: { timeoutSeconds: 120 } }])
    kc = kubeConfigFrom(project.kubeconfig)
  })

  afterAll(() => project?.cleanup())

  it('--dry-run plans the apply without a secret in sight', async () => {
    const report = await runSteps({ runbook: 'monitoring-test', dryRun: true })
    const plan = report.steps[0]!.plan!.join('\n')
    expect(plan).toContain('Secret monitoring/alertmanager-config: Alertmanager routes and receivers (Slack webhook from $AUTOLYTIQ_TEST_SLACK_WEBHOOK)')
    expect(plan).toMatch(/\+ create Deployment monitoring\/prometheus|= \d+ object\(s\) unchanged/)
    expect(JSON.stringify(report)).not.toContain('phase7webhook')
  })

  it('applies Prometheus, Grafana, Alertmanager and kube-state-metrics and waits for their rollouts', async () => {
    const report = await runSteps({ runbook: 'monitoring-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    const apps = kc.makeApiClient(AppsV1Api)
    for (const name of ['prometheus', 'grafana', 'alertmanager', 'kube-state-metrics']) {
      const d = await apps.readNamespacedDeployment({ name, namespace: 'monitoring' })
      expect(d.status?.availableReplicas, name).toBe(1)
    }
    const core = kc.makeApiClient(CoreV1Api)
    // the Grafana password was generated into a Secret, and only there
    const admin = await core.readNamespacedSecret({ name: 'grafana-admin', namespace: 'monitoring' })
    const password = Buffer.from(admin.data!['admin-password']!, 'base64').toString()
    expect(password.length).toBeGreaterThanOrEqual(24)
    const records = [
      JSON.stringify(report),
      readFileSync(join(project.home, 'state', 'test.json'), 'utf8'),
      readFileSync(join(project.home, 'state', 'test.audit.jsonl'), 'utf8'),
    ].join('\n')
    expect(records).not.toContain(password)
    expect(records).not.toContain('phase7webhook')
    expect((await openState(project)).outputs('monitoring.deploy')).toMatchObject({
      grafanaAdminLocation: 'Kubernetes Secret monitoring/grafana-admin, key admin-password',
    })

    // Alertmanager's receivers come from the Secret, with the Slack webhook from the environment
    const am = await core.readNamespacedSecret({ name: 'alertmanager-config', namespace: 'monitoring' })
    const config = parse(Buffer.from(am.data!['alertmanager.yml']!, 'base64').toString()) as { receivers: { slack_configs?: { api_url: string }[] }[] }
    expect(config.receivers[0]!.slack_configs![0]!.api_url).toBe(WEBHOOK)
    const amDeployment = await apps.readNamespacedDeployment({ name: 'alertmanager', namespace: 'monitoring' })
    expect(amDeployment.spec?.template.metadata?.annotations?.['autolytiq.io/config-hash']).toMatch(/^[0-9a-f]{16}$/)

    // one dashboard per catalog service, provisioned from the generated ConfigMap
    const cms = await core.listNamespacedConfigMap({ namespace: 'monitoring' })
    const dashboards = cms.items.find((c) => c.metadata?.name?.startsWith('grafana-dashboards-'))!
    expect(Object.keys(dashboards.data ?? {}).sort()).toEqual(catalog.names.map((n) => `${n}.json`).sort())

    const ing = await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'grafana', namespace: 'monitoring' })
    expect(ing.spec?.rules?.[0]?.host).toBe('grafana.local.autolytiq.test')
    expect(ing.metadata?.annotations?.['alb.ingress.kubernetes.io/certificate-arn']).toBe(CERT_ARN)
  })

  it('a re-run keeps the password and writes nothing', async () => {
    const core = kc.makeApiClient(CoreV1Api)
    const before = await core.readNamespacedSecret({ name: 'grafana-admin', namespace: 'monitoring' })
    const report = await runSteps({ runbook: 'monitoring-test' })
    expect(report.steps[0]).toMatchObject({ outcome: 'unchanged' })
    const after = await core.readNamespacedSecret({ name: 'grafana-admin', namespace: 'monitoring' })
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(after.data).toEqual(before.data)
  })
})

describe('monitoring.targets against a real Prometheus', () => {
  let project: K8sProject
  let prometheus: TestPrometheus
  const servers = new Map<string, Server>()

  beforeAll(async () => {
    // one /metrics endpoint per catalog service, scraped by a real Prometheus with job = service
    for (const s of catalog.deployments) {
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        res.end(`# TYPE http_requests_total counter\nhttp_requests_total{status="200"} 1\n`)
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      servers.set(s.name, server)
    }
    prometheus = await startPrometheus({
      jobs: [...servers].map(([job, server]) => ({ job, targets: [`127.0.0.1:${(server.address() as { port: number }).port}`] })),
    })
    project = k8sProject(kube?.kubeconfigPath, { prometheusUrl: prometheus.url })
    useProject(project)
    await writeRunbook(project, [{ uses: 'monitoring.targets', with: { timeoutSeconds: 60 } }])
  })

  afterAll(async () => {
    await prometheus?.stop()
    for (const s of servers.values()) s.close()
    project?.cleanup()
  })

  it('passes once every service target is up', async () => {
    const report = await runSteps({ runbook: 'monitoring-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    expect((await openState(project)).outputs('monitoring.targets')?.targets).toEqual(Object.fromEntries(catalog.deployments.map((s) => [s.name, 1])))
  })

  it('fails naming the service whose target is down, with the scrape error', async () => {
    const server = servers.get('showroom-service')!
    await new Promise<void>((r) => server.close(() => r()))
    server.closeAllConnections()
    await prometheus.waitForTarget('showroom-service', { health: 'down', timeoutMs: 30_000 })
    await writeRunbook(project, [{ uses: 'monitoring.targets', with: { timeoutSeconds: 3 } }])
    const report = await runSteps({ runbook: 'monitoring-test' })
    expect(report.result).toBe('failed')
    expect(report.error!.message).toMatch(
      /^Prometheus targets not up after 3 s: showroom-service: 0\/1 up \(http:\/\/127\.0\.0\.1:\d+\/metrics: .*connection refused/,
    )
  })
})

describe.skipIf(!alertmanager)('monitoring.alert-test against a real Alertmanager', () => {
  let project: K8sProject

  beforeAll(async () => {
    project = k8sProject(kube?.kubeconfigPath, { alertmanagerUrl: alertmanager!.url })
    useProject(project)
    await writeRunbook(project, [{ uses: 'monitoring.alert-test' }])
  })

  afterAll(() => project?.cleanup())

  it('posts a synthetic alert that Alertmanager lists and delivers, once per release', async () => {
    const report = await runSteps({ runbook: 'monitoring-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    const out = (await openState(project)).outputs('monitoring.alert-test')!
    expect(out).toMatchObject({ release: 'v1.0.0', state: 'active' })
    // Alertmanager routed it to its receiver: the webhook sink got the notification
    await waitFor(
      'synthetic alert delivered',
      async () => {
        const deliveries = (await (await fetch(alertmanager!.webhookUrl)).json()) as { alerts?: { labels: Record<string, string> }[] }[]
        return deliveries.some((d) => d.alerts?.some((a) => a.labels.alertname === 'AutolytiqSyntheticTest' && a.labels.run_id === out.runId)) || undefined
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    )
    const again = await runSteps({ runbook: 'monitoring-test' })
    expect(again.steps[0]).toMatchObject({ outcome: 'unchanged' })
  })
})
