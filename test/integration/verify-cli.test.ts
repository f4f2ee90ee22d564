/**
 * `autolytiq verify` end to end, as the on-call engineer runs it: the built CLI in a child
 * process against a whole (small) platform of real components — HTTPS gateway and redirect
 * listener, DNS, the Kubernetes control plane, PostgreSQL, Redis over TLS, RDS in moto,
 * Prometheus and Alertmanager. Grafana cannot be installed here, so a server answering its
 * /api/health document stands in for it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { CreateDBClusterCommand, RDSClient } from '@aws-sdk/client-rds'
import { awsConfigFor } from '../harness/moto.js'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { redirectHandler, startHttpServer, type TestWebServer } from '../harness/https.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { startPrometheus, waitForPrometheusTarget, type TestPrometheus } from '../harness/prometheus.js'
import { deployVerifiableService } from '../helpers/workloads.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { seedOutputs, tempProject, type TempProject } from '../helpers/project.js'
import { baseEnvironment } from '../fixtures/verify-context.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'

const aws = inject('aws')
const kube = inject('kube')
const postgres = inject('postgres')
const redis = inject('redis')
const alertmanager = inject('alertmanager')
const ready = Boolean(aws && kube && postgres && redis && alertmanager)

const HOST = 'api.sandbox.autolytiq.local'
const ALB = 'k8s-autolytiq-verifycli.us-east-1.elb.amazonaws.com'
const suffix = randomBytes(3).toString('hex')
const ns = `verify-cli-${suffix}`
const cluster = `autolytiq-cli-${suffix}`
const SERVICES = ['api-gateway', 'auth-service', 'deal-service']

let dir: string
let pki: TestPki
let gateway: TestGateway
let redirect: TestWebServer
let grafana: TestWebServer
let dns: TestDnsServer
let prometheus: TestPrometheus
let project: TempProject
let core: CoreV1Api

async function cli(args: string[]) {
  const r = await runCli([...args, '--env', 'test'], project.env, { cwd: project.root })
  return {
    ...r,
    json: () =>
      JSON.parse(r.stdout) as { result: string; durationMs: number; checks: { id: string; layer: string; status: string; detail: string; ms: number }[] },
  }
}

/** The three services as the kustomize base would deploy them, with an HPA and a PDB each. */
async function deploy(kc: KubeConfig): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: ns } } })
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'autolytiq-secrets' }, stringData: { DATABASE_URL: postgres!.url, REDIS_URL: redis!.url } },
  })
  await Promise.all(SERVICES.map((name) => deployVerifiableService(kc, ns, name)))
}

beforeAll(async () => {
  if (!ready) return
  dir = makeTempDir('verify-cli')
  pki = await createTestPki(join(dir, 'pki'))
  gateway = await startGateway(pki)
  redirect = await startHttpServer(redirectHandler(`https://${HOST}`), HOST)
  grafana = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"database":"ok","version":"10.4.2"}')
  })
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'CNAME', target: ALB }], [ALB]: [{ type: 'A', address: '127.0.0.1' }] } })
  prometheus = await startPrometheus({ jobs: [{ job: 'alertmanager', targets: [alertmanager!.hostPort] }] })
  const kc = new KubeConfig()
  kc.loadFromFile(kube!.kubeconfigPath)
  core = kc.makeApiClient(CoreV1Api)
  await deploy(kc)
  await new RDSClient(awsConfigFor(aws!.endpoint)).send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: cluster,
      Engine: 'aurora-postgresql',
      MasterUsername: 'autolytiq',
      MasterUserPassword: `pw-${suffix}-secret`,
    }),
  )
  // One CA file for both the API's and Redis' certificates, as the sandbox ships its own CA.
  const caFile = join(dir, 'ca-bundle.pem')
  writeFileSync(caFile, readFileSync(pki.caCertPath, 'utf8') + readFileSync(redis!.caPath, 'utf8'))
  project = tempProject({
    environments: {
      test: baseEnvironment({
        apiUrl: `https://${HOST}:${gateway.port}`,
        apiHttpUrl: `http://${HOST}:${redirect.port}`,
        dnsServers: [dns.server],
        caFile,
        kubeconfig: kube!.kubeconfigPath,
        namespace: ns,
        awsEndpoint: aws!.endpoint,
        prometheusUrl: prometheus.url,
        alertmanagerUrl: alertmanager!.url,
        grafanaUrl: grafana.url,
      }),
    },
  })
  // A catalog of three services (the benchmark covers 12 and 200).
  const catalog = (await import('yaml')).parse(readFileSync(join(project.root, 'services', 'catalog.yaml'), 'utf8')) as {
    services: { name: string }[]
    smoke: unknown[]
  }
  catalog.services = catalog.services.filter((s) => SERVICES.includes(s.name))
  catalog.smoke = []
  writeFileSync(join(project.root, 'services', 'catalog.yaml'), stringify(catalog))
  // What earlier phases recorded: the RDS cluster id (terraform outputs) and the ALB hostname.
  seedOutputs(project, 'test', { 'terraform.outputs': { rds_cluster_id: cluster }, 'k8s.ingress-address': { hostname: ALB } })
  await Promise.all([waitForPrometheusTarget(prometheus.url, 'prometheus'), waitForPrometheusTarget(prometheus.url, 'alertmanager')])
}, 240_000)

afterAll(async () => {
  if (core) await core.deleteNamespace({ name: ns }).catch(() => {})
  await Promise.all([gateway?.stop(), redirect?.stop(), grafana?.stop(), dns?.stop(), prometheus?.stop()])
  project?.cleanup()
  if (dir) removeTempDir(dir)
})

describe.skipIf(!ready)('autolytiq verify', () => {
  it('checks every layer concurrently; passes and warnings exit 0; writes a Markdown report', async () => {
    const report = join(project.root, 'incident.md')
    const r = await cli(['verify', '--json', '--report', report])
    expect(r.stderr).toBe('')
    const out = r.json()
    // Concurrent: the run takes about as long as its slowest check, not the sum of all of them.
    const slowest = Math.max(...out.checks.map((c) => c.ms))
    const sum = out.checks.reduce((a, c) => a + c.ms, 0)
    expect(out.durationMs).toBeLessThan(slowest + 1000)
    expect(out.durationMs).toBeLessThan(sum / 3)
    const byId = Object.fromEntries(out.checks.map((c) => [c.id, c]))
    expect([...new Set(out.checks.map((c) => c.layer))]).toEqual(['services', 'traffic', 'edge', 'kubernetes', 'database', 'redis', 'monitoring'])
    const failing = out.checks.filter((c) => c.status === 'fail')
    expect(failing).toEqual([])
    for (const id of ['health.api-gateway', 'health.auth-service', 'health.deal-service', 'tls.api', 'http.redirect', 'dns.api', 'k8s.deployments', 'k8s.pods'])
      expect(byId[id]!.status, `${id}: ${byId[id]!.detail}`).toBe('pass')
    expect(byId['database.rds']!.detail).toMatch(new RegExp(`^${cluster} is available \\(aurora-postgresql[\\d. ]*, 0 instance\\(s\\)\\)$`))
    expect(byId['database.select']!.status).toBe('pass')
    expect(byId['redis.ping']!.detail).toMatch(/\(TLS, AUTH\)$/)
    expect(byId['monitoring.targets']).toMatchObject({ status: 'pass', detail: '2 targets up (2 jobs)' })
    expect(byId['monitoring.grafana']).toMatchObject({ status: 'pass', detail: 'Grafana 10.4.2 up, database ok' })
    // Nothing computes HPA metrics or PDB status in this cluster: said so, as warnings.
    expect(byId['k8s.hpa']!.status).toBe('warn')
    expect(out.result).toBe('warn')
    expect(r.code).toBe(0)

    const md = readFileSync(report, 'utf8')
    expect(md.split('\n')[0]).toBe('# Verification report: test — WARN')
    expect(md).toContain('| Scope | whole platform |')
    expect(md).toMatch(/\| Result \| \*\*WARN\*\*: \d+ pass, \d+ warn, 0 fail \|/)
    expect(md).toContain('## Warnings (')
    expect(md).toContain('- **HorizontalPodAutoscalers present with current metrics** (kubernetes): ')
    expect(md).toMatch(
      /### services\n\n\| Status \| Check \| Detail \| Time \|\n\|---\|---\|---\|---\|\n\| PASS \| api-gateway health \(GET \/health\) \| status "ok" \(\d+ ms\) \| [\d.]+m?s \|/,
    )
    expect(md).toContain(`| PASS | DNS: API domain points at the ingress load balancer | ${HOST} is a CNAME to the ingress ${ALB} |`)
    // Secrets read from the cluster never reach the output or the report.
    for (const secret of [postgres!.password, redis!.password]) {
      expect(r.stdout).not.toContain(secret)
      expect(md).not.toContain(secret)
    }
  })

  it('exits 1 and names the failure when a service answers 500', async () => {
    gateway.answers.set('/api/v1/deals/health', { status: 500, body: '{"error":"deal-service cannot reach postgres"}' })
    try {
      const r = await cli(['verify'])
      expect(r.code).toBe(1)
      expect(r.stdout).toContain('services (FAIL)')
      expect(r.stdout).toMatch(
        / {2}FAIL {2}deal-service health \(GET \/api\/v1\/deals\/health\) — HTTP 500: \{"error":"deal-service cannot reach postgres"\} \(\d+ ms\)/,
      )
      expect(r.stdout).toMatch(/Result: FAIL \(\d+ pass, \d+ warn, 1 fail\)/)
    } finally {
      gateway.answers.delete('/api/v1/deals/health')
    }
  })

  it('--service narrows to the service, the gateway and its data stores', async () => {
    const out = (await cli(['verify', '--service', 'auth-service', '--json'])).json()
    const ids = out.checks.map((c) => c.id)
    expect(ids).toContain('health.auth-service')
    expect(ids).toContain('health.api-gateway')
    expect(ids).not.toContain('health.deal-service')
    expect(ids).toEqual(expect.arrayContaining(['database.rds', 'database.select', 'redis.ping', 'tls.api', 'dns.api', 'k8s.pods']))
    expect(ids.filter((i) => i.startsWith('monitoring.'))).toEqual([])
  })

  it('stops at the overall deadline: a hung endpoint fails at --timeout, the run does not hang', async () => {
    gateway.answers.set('/api/v1/auth/health', { delayMs: 20_000 })
    try {
      const t0 = Date.now()
      const r = await cli(['verify', '--json', '--timeout', '2'])
      const out = r.json()
      expect(r.code).toBe(1)
      // Whichever fires first under load — the check's own timeout or the overall deadline — it fails, and promptly.
      const hung = out.checks.find((c) => c.id === 'health.auth-service')!
      expect(hung.status).toBe('fail')
      expect(hung.detail).toMatch(/stopped: overall deadline reached|no (answer|response) within \d+ ms/)
      // The endpoint hangs for 20 s: the run ends well before that (timings belong in bench/, and on
      // two loaded cores the checks still running at the deadline take seconds to wind down).
      expect(out.durationMs).toBeLessThan(10_000)
      expect(Date.now() - t0).toBeLessThan(15_000)
    } finally {
      gateway.answers.delete('/api/v1/auth/health')
    }
  })

  it('rejects an unknown service with the valid names (exit 2)', async () => {
    const r = await cli(['verify', '--service', 'nope'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Error: unknown service "nope"')
    expect(r.stderr).toContain('Next: valid services: api-gateway, auth-service, deal-service')
  })
})
