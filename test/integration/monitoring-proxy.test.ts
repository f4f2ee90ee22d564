/**
 * #16 item 10: on EKS Prometheus and Alertmanager are ClusterIP Services in a private VPC, so
 * with no prometheusUrl/alertmanagerUrl configured the monitoring checks and steps go through the
 * API server's service proxy with the engineer's kubeconfig. Proven against a dedicated real
 * kube-apiserver (its endpoints controller builds the Endpoints the proxy reads) in front of the
 * harness's real Prometheus and Alertmanager.
 *
 * The API server proxies only to a pod's IP that is a global unicast address (Endpoints may not be
 * loopback), and no pod runs here: the "pod" is an object whose status carries this machine's own
 * non-loopback address, where a TCP forwarder to the real server listens. Skipped on a machine
 * with no such address.
 */
import { createServer, connect, type Server } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { AddressInfo } from 'node:net'
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { runChecks } from '../../src/checks/run.js'
import { alertmanagerHealthCheck, alertmanagerReceiversCheck, prometheusTargetsCheck } from '../../src/checks/monitoring.js'
import { monitoringRequest } from '../../src/checks/monitoring-endpoint.js'
import { serviceTargets } from '../../src/steps/monitoring/targets.js'
import { KUBE_CONTROLLERS, startKube, type TestKube } from '../harness/kube.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kubeShared = inject('kube')
const prometheus = inject('prometheus')
const alertmanager = inject('alertmanager')
const hostIp = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address

/** hostIp:<random> -> 127.0.0.1:port: the "pod network" address the API server can dial. */
async function forwarder(port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => {
    const up = connect(port, '127.0.0.1')
    c.pipe(up).pipe(c)
    const close = (): void => (c.destroy(), void up.destroy())
    c.on('error', close)
    up.on('error', close)
  })
  await new Promise<void>((r) => server.listen(0, hostIp, r))
  return { server, port: (server.address() as AddressInfo).port }
}

describe.skipIf(!kubeShared || !prometheus || !alertmanager || !hostIp)('Prometheus and Alertmanager through the API server service proxy', () => {
  let kube: TestKube
  let core: CoreV1Api
  const servers: Server[] = []
  const contexts: TestContext[] = []
  const ctx = async (): Promise<TestContext> => {
    const t = await testContext({ env: { kubeconfig: kube.kubeconfigPath } })
    contexts.push(t)
    return t
  }

  /** A ready "pod" at hostIp:port behind the Service `name` (as k8s/monitoring declares it: port `http`). */
  async function serve(name: string, servicePort: number, target: number): Promise<void> {
    const fw = await forwarder(target)
    servers.push(fw.server)
    const labels = { 'app.kubernetes.io/name': name }
    await core.createNamespacedService({
      namespace: 'monitoring',
      body: { metadata: { name }, spec: { selector: labels, ports: [{ name: 'http', port: servicePort, targetPort: 'http' }] } },
    })
    await core.createNamespacedPod({
      namespace: 'monitoring',
      body: {
        metadata: { name: `${name}-0`, labels },
        spec: { nodeName: 'node-1', containers: [{ name, image: name, ports: [{ name: 'http', containerPort: fw.port }] }] },
      },
    })
    const t = new Date()
    await core.patchNamespacedPodStatus(
      {
        name: `${name}-0`,
        namespace: 'monitoring',
        body: {
          status: {
            phase: 'Running',
            podIP: hostIp,
            podIPs: [{ ip: hostIp! }],
            conditions: [
              { type: 'Ready', status: 'True', lastTransitionTime: t },
              { type: 'ContainersReady', status: 'True', lastTransitionTime: t },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
  }

  beforeAll(async () => {
    kube = await startKube({ controllers: [...KUBE_CONTROLLERS, 'endpoints-controller'] })
    core = kube.kubeConfig().makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: 'monitoring' } } })
  })
  afterAll(async () => {
    for (const c of contexts) c.cleanup()
    for (const s of servers) s.close()
    await kube?.stop()
  })

  it('says what is missing before Prometheus is deployed, and when it has no ready pod', async () => {
    const { ctx: c } = await ctx()
    const [r] = await runChecks(c, [prometheusTargetsCheck(5000)])
    expect(r).toMatchObject({ status: 'fail' })
    expect(r!.detail).toBe('Prometheus is not deployed: services "prometheus" not found — deploy it: `autolytiq deploy --env test --only monitoring.deploy`')
    const labels = { 'app.kubernetes.io/name': 'prometheus' }
    await core.createNamespacedService({
      namespace: 'monitoring',
      body: { metadata: { name: 'prometheus' }, spec: { selector: labels, ports: [{ name: 'http', port: 9090, targetPort: 'http' }] } },
    })
    await expect(monitoringRequest(c, 'prometheus', 'api/v1/targets', { timeoutMs: 5000 })).rejects.toThrow(
      /^Prometheus has no ready pod behind its Service: (no endpoints available for service "prometheus"|endpoints "prometheus" not found)$/,
    )
    await core.deleteNamespacedService({ name: 'prometheus', namespace: 'monitoring' })
  })

  it('verify and monitoring.targets read the real Prometheus and Alertmanager through the proxy', async () => {
    await serve('prometheus', 9090, Number(new URL(prometheus!.url).port))
    await serve('alertmanager', 9093, Number(new URL(alertmanager!.url).port))
    const { ctx: c } = await ctx()
    expect(c.env.prometheusUrl).toBeUndefined()
    // the endpoints controller publishes the pods' addresses a moment after they are Ready
    await expect.poll(async () => (await runChecks(c, [prometheusTargetsCheck(5000)]))[0]!.status, { timeout: 20_000, interval: 300 }).not.toBe('fail')
    const reports = await runChecks(c, [prometheusTargetsCheck(5000), alertmanagerHealthCheck(5000), alertmanagerReceiversCheck(5000)])
    expect(reports.map((r) => [r.id, r.status])).toEqual([
      ['monitoring.targets', 'pass'],
      ['monitoring.alertmanager', 'pass'],
      ['monitoring.receivers', 'pass'],
    ])
    expect(reports[1]!.detail).toMatch(/^Alertmanager \d+\.\d+\.\d+ up/)
    // monitoring.targets (the step) asks the same API through the same path
    const targets = await serviceTargets(c, ['deal-service'])
    expect(targets).toHaveLength(1)
    // a POST with a body (monitoring.alert-test) goes through too
    const alert = [{ labels: { alertname: 'AutolytiqProxyTest', severity: 'info' }, endsAt: new Date(Date.now() + 60_000).toISOString() }]
    expect((await monitoringRequest(c, 'alertmanager', 'api/v2/alerts', { method: 'POST', body: alert, timeoutMs: 5000 })).status).toBe(200)
    const listed = await monitoringRequest(c, 'alertmanager', `api/v2/alerts?filter=${encodeURIComponent('alertname="AutolytiqProxyTest"')}`, {
      timeoutMs: 5000,
    })
    expect(JSON.parse(listed.body)).toHaveLength(1)
  })
})
