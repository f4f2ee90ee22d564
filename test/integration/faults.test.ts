/**
 * Fault tests (issue #9): a real component breaks in the middle of a real operation, and the tool
 * either fails cleanly (one message naming what broke, the documented exit code, no stack trace,
 * a valid state file) or recovers; a resume then completes. Each scenario breaks its *own*
 * instance — a dedicated moto, a dedicated control plane, a dedicated DNS server — never the
 * shared components other test files use in parallel.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm'
import { ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53'
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startMoto, type Moto } from '../harness/moto.js'
import { startKube, type TestKube } from '../harness/kube.js'
import { startNodeSimulator, type NodeSimulator } from '../harness/node-simulator.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { createTestPki } from '../harness/tls-certs.js'
import { redirectHandler, startHttpServer, type TestWebServer } from '../harness/https.js'
import { deployVerifiableService } from '../helpers/workloads.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { seedOutputs, tempProject, type TempProject } from '../helpers/project.js'
import { baseEnvironment } from '../fixtures/verify-context.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'
import { awsProject, suffix, type AwsProject } from './aws-project.js'
import { envStateSchema, type EnvState } from '../../src/engine/state.js'
import { KubeClients } from '../../src/clients/kube.js'
import { waitForRollouts } from '../../src/k8s/rollout.js'

const kubeShared = inject('kube')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** A stack trace line ("    at fn (file:line:col)"): never shown to a person for an expected failure. */
const STACK = /^\s+at .+[:(]\d+/m
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function readState(home: string, env: string): EnvState {
  return envStateSchema.parse(JSON.parse(readFileSync(join(home, 'state', `${env}.json`), 'utf8')))
}

describe('moto stops answering, then dies, during deploy', () => {
  let moto: Moto
  let p: AwsProject
  // 2 s of silence per attempt instead of the default 15 s, so the hang is detected in ~10 s.
  const TIMEOUT_S = 2
  const deploy = (): ReturnType<typeof runCli> =>
    runCli(
      ['deploy', '--env', 'sandbox', '--only', 'dns.hosted-zone', '--only', 'acm.certificate', '--yes'],
      { ...p.cliEnv, AUTOLYTIQ_AWS_TIMEOUT_SECONDS: String(TIMEOUT_S) },
      { timeoutMs: 90_000 },
    )

  beforeAll(async () => {
    moto = await startMoto()
    p = await awsProject({ endpoint: moto.endpoint })
  })
  afterAll(async () => {
    moto?.signal('SIGCONT')
    await moto?.stop()
    p?.cleanup()
  })

  it('SIGSTOPped mid-step: the step fails within its timeouts naming the endpoint; after SIGCONT a resume completes, nothing created twice', async () => {
    // acm.certificate is the step that still mutates AWS through the SDK (ECR and the rest are
    // Terraform's now): stop moto as soon as its certificate was requested, while the step goes on
    // (validation records, then DescribeCertificate until ISSUED).
    const acm = new ACMClient(p.sdk)
    const run = deploy()
    const certificates = async () => (await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []
    let stoppedAt = 0
    for (const t0 = Date.now(); Date.now() - t0 < 60_000;) {
      if ((await certificates()).length > 0) {
        moto.signal('SIGSTOP')
        stoppedAt = Date.now()
        // Truly mid-step: the state file says acm.certificate is running at the moment moto stopped.
        expect(readState(p.home, 'sandbox').steps['go-live']?.['acm.certificate']?.status).toBe('running')
        break
      }
      await sleep(10)
    }
    expect(stoppedAt, 'acm.certificate never requested a certificate').toBeGreaterThan(0)
    const r = await run
    const failedAfterMs = Date.now() - stoppedAt

    // Clean failure: exit 1 (a step failed), one message naming the silent endpoint, no stack.
    expect(r.code, r.stderr).toBe(1)
    expect(r.signal).toBeFalsy()
    expect(r.stderr).toMatch(new RegExp(`the AWS endpoint ${esc(moto.endpoint)} did not answer (acm|route53)\\.`))
    expect(r.stderr).toContain(`no response within ${TIMEOUT_S} s, 4 attempts`)
    expect(r.stderr).toMatch(/acm\.certificate/)
    expect(r.stderr).not.toMatch(STACK)
    expect(r.stderr).not.toContain('@smithy')
    expect(r.stdout).toMatch(new RegExp(`FAILED at acm\\.certificate: the AWS endpoint ${esc(moto.endpoint)} did not answer (acm|route53)\\.\\w+ `))
    expect(r.stdout).toContain('Safe to re-run')
    // Within the step's next poll (at most 15 s away) and the SDK's attempts (4 × 2 s plus back-off),
    // not the step's 30-minute limit.
    expect(failedAfterMs).toBeLessThan(40_000)

    // The state file is valid and says where it stopped: not `running` forever.
    const st = readState(p.home, 'sandbox')
    const steps = st.steps['go-live']!
    expect(steps['dns.hosted-zone']!.status).toBe('done')
    expect(steps['acm.certificate']).toMatchObject({ status: 'failed', error: expect.stringContaining(moto.endpoint) })
    expect(st.runs.at(-1)).toMatchObject({ result: 'failed', endedAt: expect.any(String) })
    const status = await runCli(['status', '--env', 'sandbox', '--json'], p.cliEnv)
    expect(status.code, status.stderr).toBe(0)

    // Revived: the same command resumes and finishes.
    moto.signal('SIGCONT')
    const resumed = await deploy()
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain('dns.hosted-zone')
    expect(resumed.stderr).toMatch(/dns\.hosted-zone: .* — already done/)
    const after = readState(p.home, 'sandbox').steps['go-live']!
    expect(after['acm.certificate']).toMatchObject({ status: 'done' })
    expect(after['acm.certificate']!.attempts).toBe(2)

    // Nothing twice: one hosted zone for the domain, one certificate (the resume reused the one requested before the stop).
    const zones = await new Route53Client(p.sdk).send(new ListHostedZonesByNameCommand({ DNSName: p.domain }))
    expect((zones.HostedZones ?? []).filter((z) => z.Name === `${p.domain}.`)).toHaveLength(1)
    expect((await certificates()).filter((c) => c.DomainName === p.apiDomain)).toHaveLength(1)
    acm.destroy()
  })

  it('killed (connection refused): exit 1 naming the endpoint and ECONNREFUSED, no stack, state valid with the step failed', async () => {
    await moto.stop()
    const t0 = Date.now()
    const r = await deploy()
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`cannot reach the AWS endpoint ${esc(moto.endpoint)} for [a-z0-9]+\\.\\w+ \\(ECONNREFUSED\\)`))
    expect(r.stdout).toMatch(/FAILED at [a-z0-9.-]+: cannot reach the AWS endpoint .* \(ECONNREFUSED\)/)
    expect(r.stderr).not.toMatch(STACK)
    expect(Date.now() - t0).toBeLessThan(30_000)
    const st = readState(p.home, 'sandbox')
    const failed = Object.entries(st.steps['go-live']!).filter(([, s]) => s.status === 'failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]![1].error).toContain('ECONNREFUSED')
    expect(Object.values(st.steps['go-live']!).some((s) => s.status === 'running')).toBe(false)
    expect(st.runs.at(-1)).toMatchObject({ result: 'failed' })
  })
})

describe.skipIf(!kubeShared)('the API server restarts during a rollout watch', () => {
  let kube: TestKube
  let sim: NodeSimulator
  const ns = `faults-${suffix()}`

  beforeAll(async () => {
    kube = await startKube()
    sim = await startNodeSimulator({ kubeConfig: kube.kubeConfig(), events: false })
  })
  afterAll(async () => {
    await sim?.stop()
    await kube?.stop()
  })

  it('the watch reconnects and the rollout is reported done, not failed and not hung until the deadline', async () => {
    const kc = kube.kubeConfig()
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } })
    const labels = { 'app.kubernetes.io/name': 'web' }
    // minReadySeconds stands in for a readiness probe's delay (the simulator's pods are Ready at once).
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          minReadySeconds: 6,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'autolytiq/web:v1.0.0' }] } },
        },
      },
    })
    const log: string[] = []
    let waiting!: () => void
    const updatedButUnavailable = new Promise<void>((r) => (waiting = r))
    const t0 = Date.now()
    const result = waitForRollouts(new KubeClients({ kubeconfig: kube.kubeconfigPath }), {
      namespace: ns,
      deployments: ['web'],
      timeoutMs: 60_000,
      log: (line) => {
        log.push(line)
        if (/web: 0 of 2 updated replicas available/.test(line)) waiting()
      },
    })
    await updatedButUnavailable
    // Mid-watch: kube-apiserver is SIGKILLed, stays down 1.5 s, comes back on the same port and etcd.
    await kube.restartApiServer({ downMs: 1500 })
    const restartedAt = Date.now()
    const done = await result
    expect(done).toEqual([expect.objectContaining({ name: 'web', replicas: 2, images: ['autolytiq/web:v1.0.0'] })])
    const reconnects = log.flatMap((l, i) => (/^watch on .+ interrupted \(.+\); reconnecting$/.test(l) ? [i] : []))
    expect(reconnects.length, log.join('\n')).toBeGreaterThan(0)
    // Resumed: progress reported after the last reconnect, ending in the rollout being done.
    expect(log.findIndex((l) => l.startsWith('web: rolled out'))).toBeGreaterThan(reconnects.at(-1)!)
    expect(log.at(-1)).toMatch(/^web: rolled out \(revision 1\)$/)
    // Done about when minReadySeconds allows, far from the 60 s deadline.
    expect(Date.now() - t0).toBeLessThan(30_000)
    expect(Date.now() - restartedAt).toBeLessThan(20_000)
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: ns })
    expect(d.status?.availableReplicas).toBe(2)
  })
})

describe.skipIf(!kubeShared)('the DNS server is down during verify', () => {
  const HOST = 'api.sandbox.autolytiq.local'
  const ALB = 'k8s-autolytiq-faults.us-east-1.elb.amazonaws.com'
  const ns = `faults-dns-${suffix()}`
  const records = { [HOST]: [{ type: 'CNAME' as const, target: ALB }], [ALB]: [{ type: 'A' as const, address: '127.0.0.1' }] }
  let dir: string
  let gateway: TestGateway
  let redirect: TestWebServer
  let dns: TestDnsServer
  let project: TempProject
  let core: CoreV1Api

  beforeAll(async () => {
    dir = makeTempDir('faults-dns')
    const pki = await createTestPki(join(dir, 'pki'))
    gateway = await startGateway(pki)
    redirect = await startHttpServer(redirectHandler(`https://${HOST}`), HOST)
    dns = await startDnsServer({ records })
    // api-gateway alone (verify --service api-gateway: no data stores, no monitoring) in a namespace of ours.
    const kc = new KubeConfig()
    kc.loadFromFile(kubeShared!.kubeconfigPath)
    core = kc.makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: ns } } })
    await deployVerifiableService(kc, ns, 'api-gateway')
    project = tempProject({
      environments: {
        test: baseEnvironment({
          apiUrl: `https://${HOST}:${gateway.port}`,
          apiHttpUrl: `http://${HOST}:${redirect.port}`,
          dnsServers: [dns.server],
          caFile: pki.caCertPath,
          kubeconfig: kubeShared!.kubeconfigPath,
          namespace: ns,
        }),
      },
    })
    // What k8s.ingress-address recorded: the load balancer the API name must lead to.
    seedOutputs(project, 'test', { 'k8s.ingress-address': { hostname: ALB } })
  })
  afterAll(async () => {
    if (core) await core.deleteNamespace({ name: ns }).catch(() => {})
    await Promise.all([gateway?.stop(), redirect?.stop(), dns?.stop()])
    project?.cleanup()
    if (dir) removeTempDir(dir)
  })

  interface VerifyJson {
    result: string
    checks: { id: string; layer: string; status: string; detail: string }[]
  }
  const verify = async (): Promise<{ code: number; out: VerifyJson; stderr: string; text: string }> => {
    const r = await runCli(['verify', '--env', 'test', '--service', 'api-gateway', '--json'], project.env, { cwd: project.root, timeoutMs: 60_000 })
    return { code: r.code, out: JSON.parse(r.stdout) as VerifyJson, stderr: r.stderr, text: r.stdout }
  }

  it('stopped: dns.api fails naming the resolver, the name and the problem; other checks still reported; started again on the same port: verify passes', async () => {
    const port = dns.port
    await dns.stop()
    const down = await verify()
    expect(down.code, down.text).toBe(1)
    expect(down.stderr).toBe('')
    expect(down.text).not.toMatch(STACK)
    const byId = Object.fromEntries(down.out.checks.map((c) => [c.id, c]))
    expect(byId['dns.api']).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${HOST} could not be resolved via 127.0.0.1:${port}`) })
    expect(byId['dns.api']!.detail).toMatch(
      /: the DNS server (refused the query \(nothing listening: is it running\?\) \(ECONNREFUSED\)|did not answer in time \(ETIMEOUT\))$/,
    )
    // Every other check still ran and reported: the Kubernetes layer does not depend on this DNS server.
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(['health.api-gateway', 'tls.api', 'http.redirect', 'k8s.deployments', 'k8s.pods']))
    expect(byId['k8s.deployments']!.status).toBe('pass')
    expect(byId['k8s.pods']!.status).toBe('pass')

    dns = await startDnsServer({ records, port })
    const up = await verify()
    const failing = up.out.checks.filter((c) => c.status === 'fail')
    expect(failing, up.text).toEqual([])
    expect(up.code).toBe(0)
    expect(up.out.checks.find((c) => c.id === 'dns.api')).toMatchObject({ status: 'pass', detail: `${HOST} is a CNAME to the ingress ${ALB}` })
  })
})
