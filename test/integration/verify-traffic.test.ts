/**
 * `autolytiq verify` after an incident (issue #19), through the CLI against real components: a
 * release whose image answers 20 % of requests with 500 while /health says 200, a release that
 * adds latency, and a crash-looping one. The services are the sandbox's own stand-ins (in this
 * process), playing whatever image their Deployment runs in the real control plane — the same
 * image follower the sandbox uses — and scraped by a real Prometheus, job per service, with the
 * namespace label, as the alert rules expect.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node'
import { CreateDBClusterCommand, RDSClient } from '@aws-sdk/client-rds'
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { awsConfigFor } from '../harness/moto.js'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { redirectHandler, startHttpServer, type TestWebServer } from '../harness/https.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { startPrometheus, waitForPrometheusTarget, type TestPrometheus } from '../harness/prometheus.js'
import { watchUntil } from '../harness/kube-wait.js'
import { deployVerifiableService } from '../helpers/workloads.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { filesSnapshot, tempProject, type TempProject } from '../helpers/project.js'
import { baseEnvironment } from '../fixtures/verify-context.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'
import { createStandinHandler } from '../../src/sandbox/standin/app.js'
import { Behaviour } from '../../src/sandbox/standin/misbehaviour.js'
import { Store } from '../../src/sandbox/standin/store.js'
import { followDeploymentImages, imageFile } from '../../src/sandbox/image-follower.js'
import type { VerifyResult } from '../../src/engine/verify.js'

const aws = inject('aws')
const kube = inject('kube')
const postgres = inject('postgres')
const redis = inject('redis')
const alertmanager = inject('alertmanager')
const ready = Boolean(aws && kube && postgres && redis && alertmanager)

const HOST = 'api.sandbox.autolytiq.local'
const suffix = randomBytes(3).toString('hex')
const ALB = `k8s-autolytiq-vtraffic-${suffix}.us-east-1.elb.amazonaws.com`
const ns = `verify-traffic-${suffix}`
const ENV = `vt-${suffix}`
const cluster = `autolytiq-vt-${suffix}`
const BUCKET = `vt-state-${suffix}`
const SERVICES = ['api-gateway', 'auth-service', 'deal-service']
/** Stand-ins that get traffic; the gateway's stand-in gets none (its "no traffic" warning is asserted). */
const BUSY = ['auth-service', 'deal-service']
const WINDOW = '20s'
/** A value that must never appear in any output, report or file (canary). */
const CANARY = `canary-${randomBytes(8).toString('hex')}`

let dir: string
let pki: TestPki
let gateway: TestGateway
let redirect: TestWebServer
let grafana: TestWebServer
let dns: TestDnsServer
let prometheus: TestPrometheus
let project: TempProject
let kc: KubeConfig
let apps: AppsV1Api
let core: CoreV1Api
let store: Store
let follower: { stop(): Promise<void> }
const standins: { server: Server; port: number; stopFollowing: () => void }[] = []
let traffic: NodeJS.Timeout | undefined
let goLiveAt: string

type Json = VerifyResult & { ok: boolean }

async function cli(args: string[], timeoutMs = 120_000) {
  const r = await runCli([...args, '--env', ENV], project.env, { cwd: project.root, timeoutMs })
  return { ...r, json: () => JSON.parse(r.stdout) as Json }
}

/** Roll a Deployment to `tag` and wait until its rollout is complete (or, for `crash`, until the new pod crash-loops). */
async function rollTo(service: string, tag: string): Promise<void> {
  await apps.patchNamespacedDeployment(
    { name: service, namespace: ns, body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `autolytiq/${service}:${tag}` }] },
    { headers: { 'Content-Type': 'application/json-patch+json' } } as never,
  )
  await watchUntil<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    (d) =>
      d.metadata?.name === service &&
      (tag.includes('crash') ||
        ((d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
          d.status?.updatedReplicas === 2 &&
          d.status?.availableReplicas === 2 &&
          d.status?.replicas === 2)),
    { timeoutMs: 60_000 },
  )
}

/** Polls Prometheus (not a sleep) until the window shows what the test needs. */
async function untilPrometheus(expr: string, ok: (v: number) => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const res = (await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
      data: { result: { value: [number, string] }[] }
    }
    const v = Number(res.data.result[0]?.value[1])
    if (Number.isFinite(v) && ok(v)) return
    if (Date.now() > end) throw new Error(`Prometheus never satisfied ${expr} (last ${v})`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

const errorRatio = (service: string): string =>
  `sum(rate(http_requests_total{job="${service}",status=~"5.."}[${WINDOW}])) / sum(rate(http_requests_total{job="${service}"}[${WINDOW}]))`
const p99 = (service: string): string => `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="${service}"}[${WINDOW}])))`

function writeConfig(traffic?: Record<string, number>): void {
  const path = join(project.root, 'autolytiq.yaml')
  const cfg = parse(readFileSync(path, 'utf8')) as { environments: Record<string, Record<string, unknown>> }
  if (traffic) cfg.environments[ENV]!.traffic = traffic
  else delete cfg.environments[ENV]!.traffic
  writeFileSync(path, stringify(cfg))
}

beforeAll(async () => {
  if (!ready) return
  dir = makeTempDir('verify-traffic')
  pki = await createTestPki(join(dir, 'pki'))
  gateway = await startGateway(pki)
  redirect = await startHttpServer(redirectHandler(`https://${HOST}`), HOST)
  grafana = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"database":"ok","version":"10.4.2"}')
  })
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'CNAME', target: ALB }], [ALB]: [{ type: 'A', address: '127.0.0.1' }] } })
  kc = new KubeConfig()
  kc.loadFromFile(kube!.kubeconfigPath)
  apps = kc.makeApiClient(AppsV1Api)
  core = kc.makeApiClient(CoreV1Api)

  // The go-live: namespace, the app Secret, the Deployments; Terraform state written twice; one secret in Secrets Manager.
  goLiveAt = new Date(Date.now() - 1000).toISOString()
  await core.createNamespace({ body: { metadata: { name: ns } } })
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'autolytiq-secrets' }, stringData: { DATABASE_URL: postgres!.url, REDIS_URL: redis!.url, CANARY_TOKEN: CANARY } },
  })
  await Promise.all(SERVICES.map((name) => deployVerifiableService(kc, ns, name)))
  const cfg = awsConfigFor(aws!.endpoint)
  const s3 = new S3Client({ ...cfg, forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }))
  for (const serial of [1, 2])
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'infrastructure/terraform.tfstate', Body: JSON.stringify({ version: 4, serial }) }))
  await new SecretsManagerClient(cfg).send(new CreateSecretCommand({ Name: `autolytiq/${ENV}/database`, SecretString: JSON.stringify({ password: CANARY }) }))
  await new RDSClient(cfg).send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: cluster,
      Engine: 'aurora-postgresql',
      MasterUsername: 'autolytiq',
      MasterUserPassword: `pw-${suffix}-secret`,
    }),
  )

  // The services: a stand-in per busy service, following the image its Deployment runs.
  store = new Store(postgres!.url)
  const images = join(dir, 'images')
  follower = await followDeploymentImages(kc, ns, images, SERVICES)
  for (const service of SERVICES) {
    const behaviour = new Behaviour()
    const stopFollowing = behaviour.followFile(imageFile(images, service))
    const { handle } = createStandinHandler({ service, healthPath: '/health', dependsOn: [], jwtSecret: CANARY, store, behaviour })
    const server = createServer(handle)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    standins.push({ server, port: (server.address() as AddressInfo).port, stopFollowing })
  }
  prometheus = await startPrometheus({
    jobs: [
      { job: 'alertmanager', targets: [alertmanager!.hostPort] },
      ...SERVICES.map((service, i) => ({ job: service, targets: [`127.0.0.1:${standins[i]!.port}`], labels: { namespace: ns } })),
    ],
  })
  // Users: 20 requests a second to each busy service, on a route that is not its health path.
  traffic = setInterval(() => {
    for (const service of BUSY) {
      const port = standins[SERVICES.indexOf(service)]!.port
      void fetch(`http://127.0.0.1:${port}/api/v1/anything`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      )
    }
  }, 50)

  // Real environments use the context `kube.config` wrote, autolytiq-<env>: add it to a copy of the harness' kubeconfig.
  const kubeconfig = join(dir, 'kubeconfig')
  const kcFile = parse(readFileSync(kube!.kubeconfigPath, 'utf8')) as { contexts: { name: string; context: unknown }[]; 'current-context': string }
  const current = kcFile.contexts.find((c) => c.name === kcFile['current-context']) ?? kcFile.contexts[0]!
  kcFile.contexts.push({ ...current, name: `autolytiq-${ENV}` })
  writeFileSync(kubeconfig, stringify(kcFile), { mode: 0o600 })
  const caFile = join(dir, 'ca-bundle.pem')
  writeFileSync(caFile, readFileSync(pki.caCertPath, 'utf8') + readFileSync(redis!.caPath, 'utf8'))
  project = tempProject({
    environments: {
      [ENV]: baseEnvironment({
        apiUrl: `https://${HOST}:${gateway.port}`,
        apiHttpUrl: `http://${HOST}:${redirect.port}`,
        dnsServers: [dns.server],
        caFile,
        kubeconfig,
        namespace: ns,
        awsEndpoint: aws!.endpoint,
        prometheusUrl: prometheus.url,
        alertmanagerUrl: alertmanager!.url,
        grafanaUrl: grafana.url,
        terraformState: { bucket: BUCKET, lockTable: `vt-lock-${suffix}` },
      }),
    },
  })
  const catalog = parse(readFileSync(join(project.root, 'services', 'catalog.yaml'), 'utf8')) as { services: { name: string }[]; smoke: unknown[] }
  catalog.services = catalog.services.filter((s) => SERVICES.includes(s.name))
  catalog.smoke = []
  writeFileSync(join(project.root, 'services', 'catalog.yaml'), stringify(catalog))
  // What the go-live recorded: outputs, and phase 8's load baseline (p99 8 ms, no errors).
  mkdirSync(join(project.home, 'state'), { recursive: true })
  const baseline = {
    url: `https://${HOST}/health`,
    release: 'v1.0.0',
    at: goLiveAt,
    connections: 10,
    durationSeconds: 60,
    requests: 30000,
    rps: 500,
    p50: 2,
    p95: 5,
    p99: 8,
    errors: 0,
    errorRate: 0,
  }
  writeFileSync(
    join(project.home, 'state', `${ENV}.json`),
    JSON.stringify({
      schemaVersion: 1,
      environment: ENV,
      updatedAt: goLiveAt,
      runs: [],
      steps: {},
      outputs: { 'terraform.outputs': { rds_cluster_id: cluster }, 'k8s.ingress-address': { hostname: ALB } },
      rollbackPoints: [],
      checklist: {},
      baseline: { baseline, last: baseline, regressions: [] },
    }),
  )
  const auditLine = { at: goLiveAt, runId: 'golive-1', user: 'oncall', host: 'laptop', environment: ENV, action: 'step.run', step: 'k8s.deploy', result: 'ok' }
  writeFileSync(join(project.home, 'state', `${ENV}.audit.jsonl`), JSON.stringify(auditLine) + '\n')
  await Promise.all(SERVICES.map((s) => waitForPrometheusTarget(prometheus.url, s)))
  await untilPrometheus(`sum(rate(http_requests_total{job="deal-service"}[${WINDOW}]))`, (v) => v > 5)
}, 240_000)

afterAll(async () => {
  if (traffic) clearInterval(traffic)
  if (core) await core.deleteNamespace({ name: ns }).catch(() => {})
  await follower?.stop()
  for (const s of standins) {
    s.stopFollowing()
    s.server.closeAllConnections()
    s.server.close()
  }
  await Promise.all([gateway?.stop(), redirect?.stop(), grafana?.stop(), dns?.stop(), prometheus?.stop(), store?.close()])
  project?.cleanup()
  if (dir) removeTempDir(dir)
})

describe.skipIf(!ready)('verify after an incident', () => {
  it('a fresh go-live: what changed lists its own changes and nothing invented; traffic passes; no service traffic warns', async () => {
    const r = await cli(['verify', '--json', '--window', WINDOW, '--since', '1h'])
    const out = r.json()
    expect(out.serviceFilter).toEqual([])
    expect(out.servicesChecked).toEqual(SERVICES)
    const byId = Object.fromEntries(out.checks.map((c) => [c.id, c]))
    expect(byId['traffic.deal-service']!.status, byId['traffic.deal-service']!.detail).toBe('pass')
    expect(byId['traffic.deal-service']!.detail).toMatch(/req\/s over 20s, 5xx 0\.0% \(go-live load baseline of v1\.0\.0 .*: 0\.0%\)/)
    expect(byId['traffic.api-gateway']).toMatchObject({
      status: 'warn',
      detail: 'no requests in the last 20s: nothing to judge (idle, or traffic is not reaching api-gateway)',
    })
    expect(out.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`)).toEqual([])
    // Exactly what the go-live did, newest first; Helm rows may come from other releases in this shared cluster, so they are checked against the cluster.
    const rows = out.changes!.changes.filter((c) => c.source !== 'helm')
    const bySource = (s: string) => rows.filter((c) => c.source === s).map((c) => c.what)
    expect(bySource('deployment').sort()).toEqual(SERVICES.map((s) => `deployment/${s} created (revision 1, image autolytiq/${s}:v1.0.0)`).sort())
    // Who, where the layer records it, else "unknown": the test created the Deployments (their image's field manager),
    // wrote the Terraform state itself (no autolytiq metadata) and the secret (Secrets Manager does not say).
    const who = (source: string) => [...new Set(rows.filter((c) => c.source === source).map((c) => c.who))]
    expect(who('deployment')).toHaveLength(1)
    expect(who('deployment')[0]).toMatch(/^field manager \S+$/)
    expect(who('terraform')).toEqual(['unknown'])
    expect(who('secrets')).toEqual(['unknown'])
    expect(bySource('terraform')).toHaveLength(2)
    expect(bySource('terraform')[0]).toMatch(/^terraform state written: version \S+ \(\d+ bytes\), current$/)
    expect(bySource('secrets')).toEqual([`secret autolytiq/${ENV}/database: new version (AWSCURRENT)`])
    expect(rows.filter((c) => c.source === 'autolytiq')).toEqual([
      expect.objectContaining({ who: 'oncall@laptop', what: 'deploy step k8s.deploy ran and changed the environment' }),
    ])
    expect(bySource('scaling')).toEqual([])
    expect(rows.map((c) => c.at)).toEqual([...rows.map((c) => c.at)].sort().reverse())
    const helmSecrets = new Set(
      (await core.listSecretForAllNamespaces({ labelSelector: 'owner=helm' })).items.map(
        (s) => `${s.metadata?.labels?.name} revision ${s.metadata?.labels?.version}`,
      ),
    )
    for (const h of out.changes!.changes.filter((c) => c.source === 'helm'))
      expect(helmSecrets.has(/^helm release (\S+ revision \d+)/.exec(h.what)![1]!)).toBe(true)
    expect(out.changes!.sources.every((s) => s.ok)).toBe(true)
    expect(r.stdout).not.toContain(CANARY)
    expect(r.code).toBe(0)
  })

  it('a release answering 20 % 500s with /health 200: FAIL on its traffic only, the rollout in what changed, the rollback command; after it, --watch ends green', async () => {
    await rollTo('deal-service', 'v1.0.1-err20')
    await untilPrometheus(errorRatio('deal-service'), (v) => v > 0.15)
    const report = join(project.root, 'incident.md')
    const r = await cli(['verify', '--json', '--window', WINDOW, '--report', report])
    const out = r.json()
    expect(r.code).toBe(1)
    const fails = out.checks.filter((c) => c.status === 'fail')
    expect(
      fails.map((c) => c.id),
      JSON.stringify(fails.map((c) => c.detail)),
    ).toEqual(['traffic.deal-service'])
    const f = fails[0]!
    expect(f.detail).toMatch(
      /^5xx (1[5-9]|2\d)(\.\d)?% above 5\.0% — [\d.]+ req\/s over 20s, 5xx [\d.]+% \(go-live load baseline of v1\.0\.0 \(platform, .*\): 0\.0%\)/,
    )
    expect(out.checks[0]!.id).toBe('traffic.deal-service') // failing layer first
    expect(out.checks.find((c) => c.id === 'health.deal-service')!.status).toBe('pass')
    expect(out.checks.find((c) => c.id === 'traffic.auth-service')!.status).toBe('pass')
    const rollout = out.changes!.changes.find((c) => c.source === 'deployment' && c.service === 'deal-service' && c.revision === 2)!
    expect(rollout.what).toBe('deployment/deal-service rolled out revision 2: image autolytiq/deal-service:v1.0.0 → autolytiq/deal-service:v1.0.1-err20')
    // The test's own PATCH made it: the image's field manager is the only record of who.
    expect(rollout.who).toMatch(/^field manager \S+$/)
    expect(out.changes!.changes[0]).toEqual(rollout) // newest first
    const next = `autolytiq rollback --env ${ENV} --service deal-service`
    expect(f.next).toBe(next)
    expect(out.nextSteps).toEqual([{ check: 'traffic.deal-service', command: next }])
    // The trend the sparkline and chart draw: 5xx appears inside the window.
    const trend = (f.data as { trend: { errorRatio: (number | null)[] } }).trend
    expect(Math.max(...trend.errorRatio.map((v) => v ?? 0))).toBeGreaterThan(0.1)

    const md = readFileSync(report, 'utf8')
    expect(md.split('\n')[0]).toBe(`# Verification report: ${ENV} — FAIL`)
    const order = ['## Failures (1)', '## Next steps', '## Traffic', '## What changed since', '## All checks'].map((h) => md.indexOf(h))
    expect(order.every((i) => i > 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(md).toContain(`1. \`${next}\``)
    expect(md).toContain('```mermaid\nxychart-beta\n  title "deal-service 5xx ratio (fail above 5.0%)"')
    expect(md).toContain(
      `| deployment | ${rollout.who} | deployment/deal-service rolled out revision 2: image autolytiq/deal-service:v1.0.0 → autolytiq/deal-service:v1.0.1-err20 |`,
    )

    // The terminal: the failing layer first, its next command, a trend line.
    const text = await cli(['verify', '--window', WINDOW])
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^Verify .*\n\ntraffic \(FAIL\)\n {2}FAIL {2}deal-service traffic/)
    expect(text.stdout).toContain(`        Next: ${next}`)
    expect(text.stdout).toMatch(/ {8}trend 12 steps: rate [▁▂▃▄▅▆▇█ ]+ {2}5xx [▁▂▃▄▅▆▇█ ]*[▄▅▆▇█][▁▂▃▄▅▆▇█ ]* {2}p99/)
    expect(text.stdout).toMatch(/What changed since .*\n.*When \(UTC\) +Source +Who +What/)

    const rb = await runCli(next.split(' ').slice(1).concat('--yes'), project.env, { cwd: project.root, timeoutMs: 120_000 })
    expect(rb.code, rb.stderr).toBe(0)
    const watch = await cli(['verify', '--watch', '--interval', '2', '--timeout', '90', '--window', WINDOW], 150_000)
    expect(watch.stdout).toContain('FAIL  deal-service traffic')
    // Recovery: the window still holds a few of the old 5xx (a warning at 2× the baseline) or none; either way nothing fails.
    expect(watch.stdout).toMatch(/Round \d+ at [^\n]* 0 failing\n(.*\n)*? {2}(PASS|WARN) {2}deal-service traffic/)
    expect(watch.stdout).toContain(
      'deployment/deal-service rolled out revision 3 (an earlier template again: a rollback): image autolytiq/deal-service:v1.0.1-err20 → autolytiq/deal-service:v1.0.0',
    )
    expect(watch.stdout.trim().split('\n').pop()).toMatch(/^Green: nothing fails \((PASS|WARN)\)\.$/)
    expect(watch.code).toBe(0)
    // The rollback's revision names the person who ran it (autolytiq's change-cause, copied onto the ReplicaSet); the err20 revision, no longer current, is unknown.
    const after = (await cli(['verify', '--json', '--window', WINDOW, '--since', '1h'])).json()
    const deal = after.changes!.changes.filter((c) => c.source === 'deployment' && c.service === 'deal-service')
    expect(deal.find((c) => c.revision === 3)!.who).toBe(`${userInfo().username}@${hostname()}`)
    expect(deal.find((c) => c.revision === 2)!.who).toBe('unknown')
    for (const text of [r.stdout, md, rb.stdout, watch.stdout]) expect(text).not.toContain(CANARY)
  }, 300_000)

  it('a latency-injected release warns on p99 against the baseline, and fails at a configured threshold', async () => {
    // 300 ms lands in the (0.25, 0.5] bucket: p99 about 0.5 s, clear of the 1 s default failure.
    await rollTo('auth-service', 'v1.0.1-slow300ms')
    await untilPrometheus(p99('auth-service'), (v) => v > 0.25)
    const warn = (await cli(['verify', '--json', '--window', WINDOW])).json()
    const c = warn.checks.find((x) => x.id === 'traffic.auth-service')!
    expect(c.status, c.detail).toBe('warn')
    expect(c.detail).toMatch(/^p99 \d+ ms is over 2× go-live load baseline of v1\.0\.0 .* \(8\.0 ms\)/)
    writeConfig({ p99FailSeconds: 0.4 })
    try {
      const r = await cli(['verify', '--json', '--window', WINDOW])
      const fail = r.json().checks.find((x) => x.id === 'traffic.auth-service')!
      expect(fail.status).toBe('fail')
      expect(fail.detail).toMatch(/^p99 \d+ ms above 400 ms — /)
      expect(fail.next).toBe(`autolytiq rollback --env ${ENV} --service auth-service`)
      expect(r.code).toBe(1)
    } finally {
      writeConfig()
    }
  }, 120_000)

  it('a crash-looping release: the report shows the exit code and the last log lines (kubectl logs works on the simulated node)', async () => {
    await rollTo('deal-service', 'v1.0.2-crash')
    const crashing = await watchUntil<V1Pod>(
      kc,
      `/api/v1/namespaces/${ns}/pods`,
      (p) => Boolean(p.spec?.containers?.[0]?.image?.endsWith('v1.0.2-crash') && (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1),
      { timeoutMs: 60_000 },
    )
    const pod = crashing.metadata!.name!
    const kubectl = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'logs', '-n', ns, pod, '--previous', '--tail', '5'], (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      )
    })
    expect(kubectl.out).toMatch(/panic: simulated crash: image tag "v1\.0\.2-crash" crashes on start\n.*exit status 1\n$/)
    expect(kubectl.code).toBe(0)

    const report = join(project.root, 'crash.md')
    const r = await cli(['verify', '--json', '--window', WINDOW, '--report', report])
    expect(r.code).toBe(1)
    const out = r.json()
    const ev = out.failingPods!.find((p) => p.pod === pod)!
    expect(ev).toMatchObject({ service: 'deal-service', container: 'deal-service', lastTermination: { exitCode: 1, reason: 'Error' } })
    expect(ev.logs.at(-2)).toMatch(/panic: simulated crash/)
    expect(ev.logs.at(-1)).toMatch(/exit status 1$/)
    expect(ev.events.join('\n')).toContain('BackOff')
    const pods = out.checks.find((c) => c.id === 'k8s.pods')!
    expect(pods.status).toBe('fail')
    expect(pods.next).toBe(`autolytiq rollback --env ${ENV} --service deal-service`)
    const md = readFileSync(report, 'utf8')
    expect(md).toContain(`### ${pod} (deal-service)`)
    expect(md).toContain('- last exit code 1 (Error)')
    expect(md).toMatch(/```text\n(.*\n)*.*panic: simulated crash.*\n.*exit status 1\n```/)
    // The canary: no output, report or file the CLI wrote holds the secret.
    for (const text of [r.stdout, r.stderr, md, ...Object.values(filesSnapshot(project.home))]) expect(text).not.toContain(CANARY)
  }, 120_000)
})
