/**
 * The sandbox's own parts against the shared real components (control plane + node simulator,
 * moto, PostgreSQL): the stand-in services, the gateway following EndpointSlice readiness, DNS
 * answering from Route 53, and the External Secrets / ALB controllers. The whole sandbox, through
 * the CLI, is test/e2e/sandbox.test.ts.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { Resolver } from 'node:dns/promises'
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53'
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { watchUntil } from '../harness/kube-wait.js'
import { awsConfigFor } from '../harness/moto.js'
import { startDnsServer } from '../harness/dns.js'
import { createTestPki } from '../harness/tls-certs.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { REPO } from '../helpers/cli.js'
import { createStandinHandler } from '../../src/sandbox/standin/app.js'
import { Store } from '../../src/sandbox/standin/store.js'
import { verifyJwt } from '../../src/sandbox/standin/jwt.js'
import { startGateway, ownedPrefix, type Gateway } from '../../src/sandbox/gateway.js'
import { watchEndpointReadiness, type EndpointReadiness } from '../../src/sandbox/endpoint-readiness.js'
import { route53Records } from '../../src/sandbox/dns-route53.js'
import { runEsoWithDeployment } from '../../src/sandbox/controllers/external-secrets-operator.js'
import { esoInstall } from '../harness/external-secrets.js'
import { albHostname, startAlbController } from '../../src/sandbox/controllers/alb.js'
import { NO_METRICS_API, startAutoscaler } from '../../src/sandbox/controllers/autoscaler.js'
import { loadCatalog } from '../../src/config/catalog.js'

const id = randomBytes(3).toString('hex')
const kube = inject('kube')
const aws = inject('aws')
const postgres = inject('postgres')

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromFile(kube!.kubeconfigPath)
  return kc
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as AddressInfo).port
}

async function call(port: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}

/** A Deployment + Service of one replica in `namespace`, running `image` on the simulated node. */
function workload(namespace: string, name: string, image: string, labels: Record<string, string> = {}): KubernetesObject[] {
  const match = { 'app.kubernetes.io/name': name }
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels: { ...match, ...labels } },
      spec: {
        replicas: 1,
        selector: { matchLabels: match },
        template: { metadata: { labels: match }, spec: { containers: [{ name, image, ports: [{ containerPort: 8080 }] }] } },
      },
    } as KubernetesObject,
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: match, ports: [{ name: 'http', port: 8080 }] } } as KubernetesObject,
  ]
}

async function apply(kc: KubeConfig, objects: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc)
  for (const o of objects) {
    try {
      await api.create(o)
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err
    }
  }
}

describe.skipIf(!postgres)('stand-in services', () => {
  const store = postgres ? new Store(postgres.url) : undefined
  let server: Server
  let port = 0
  const secret = randomBytes(16).toString('hex')
  const serve = (service: string): void => {
    const catalog = loadCatalog(REPO)
    const s = catalog.get(service)
    server.removeAllListeners('request')
    server.on('request', createStandinHandler({ service, healthPath: s.healthPath!, dependsOn: s.dependsOn, jwtSecret: secret, store: store! }).handle)
  }

  beforeAll(async () => {
    await store!.migrateNow()
    server = createServer()
    port = await listen(server)
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await store?.close()
  })

  test('the smoke flows of the catalog pass: register, login with a real JWT, deals, tax, search, email', async () => {
    const email = `e2e-${id}@example.test`
    serve('user-service')
    const reg = await call(port, 'POST', '/api/v1/users/register', { email, password: 'correct horse battery', name: 'E2E' })
    expect(reg).toMatchObject({ status: 201, json: { email } })
    expect((await call(port, 'POST', '/api/v1/users/register', { email, password: 'correct horse battery' })).status).toBe(409)

    serve('auth-service')
    expect((await call(port, 'POST', '/api/v1/auth/login', { email, password: 'wrong password!' })).status).toBe(401)
    const login = await call(port, 'POST', '/api/v1/auth/login', { email, password: 'correct horse battery' })
    const token = String(login.json.token)
    expect(verifyJwt(token, secret)).toMatchObject({ sub: reg.json.id, email })

    serve('deal-service')
    expect((await call(port, 'GET', '/api/v1/deals')).status).toBe(401)
    expect(((await call(port, 'GET', '/api/v1/deals', undefined, token)).json.items as unknown[]).length).toBeGreaterThan(0)
    expect((await call(port, 'POST', '/api/v1/deals/tax', { price: 30000, state: 'CA', county: 'Los Angeles' }, token)).json).toMatchObject({
      rate: 0.095,
      tax: 2850,
      total: 32850,
    })
    const deal = await call(port, 'POST', '/api/v1/deals', { customerName: 'E2E', vehicleVin: '1HGCM82633A004352', price: 30000 }, token)
    expect(deal).toMatchObject({ status: 201, json: { price: 30000 } })
    expect((await call(port, 'DELETE', `/api/v1/deals/${String(deal.json.id)}`, undefined, token)).status).toBe(204)

    serve('customer-service')
    expect((await call(port, 'GET', '/api/v1/customers/search?q=smith', undefined, token)).json.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Jane Smith' })]),
    )
    serve('inventory-service')
    expect(((await call(port, 'GET', '/api/v1/inventory/search?make=honda', undefined, token)).json.items as unknown[]).length).toBeGreaterThan(0)
    serve('email-service')
    expect(await call(port, 'POST', '/api/v1/email/send', { to: 'smoke-test@example.test', subject: 's', text: 't' }, token)).toMatchObject({
      status: 202,
      json: { status: 'queued' },
    })

    serve('user-service')
    expect((await call(port, 'DELETE', `/api/v1/users/${String(reg.json.id)}`)).status).toBe(204)
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(metrics).toMatch(/^http_requests_total\{service="user-service",method="DELETE",route="\/api\/v1\/users\/:id",status="204"\} 1$/m)
    expect(metrics).toMatch(/^http_request_duration_seconds_count\{service="user-service",method="DELETE",route="\/api\/v1\/users\/:id"\} 1$/m)
  })
})

describe.skipIf(!kube)('gateway follows EndpointSlice readiness', () => {
  const namespace = `sbx-gw-${id}`
  let kc: KubeConfig
  let readiness: EndpointReadiness
  let gateway: Gateway
  let upstream: Server
  let dir: string
  let ca = ''

  beforeAll(async () => {
    kc = kubeConfig()
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
    upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', path: req.url })))
    const port = await listen(upstream)
    dir = makeTempDir('sandbox-gw')
    const pki = await createTestPki(dir)
    ca = pki.caCert
    readiness = await watchEndpointReadiness(kc, namespace)
    const leaf = pki.leaf('valid')
    gateway = await startGateway({
      cert: leaf.cert,
      key: leaf.key,
      upstreams: [
        { service: 'api-gateway', port, prefix: '/health' },
        { service: 'deal-service', port, prefix: '/api/v1/deals' },
      ],
      entryService: 'api-gateway',
      ready: (s) => readiness.ready(s),
      namespace,
    })
  })
  afterAll(async () => {
    await gateway?.stop()
    await readiness?.stop()
    upstream?.closeAllConnections()
    upstream?.close()
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {})
    removeTempDir(dir)
  })

  const get = (path: string): Promise<{ status: number; body: string; location?: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gateway.httpsPort, path, servername: 'api.sandbox.autolytiq.local', ca }, (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      req.end()
    })

  test('routes by the catalog path prefixes', () => {
    const catalog = loadCatalog(REPO)
    expect(ownedPrefix(catalog.get('deal-service'))).toBe('/api/v1/deals')
    expect(ownedPrefix(catalog.get('api-gateway'))).toBe('/health')
  })

  test('503 naming the service until its pods are Ready; a crash-looping deployment stays down', async () => {
    expect(JSON.parse((await get('/health')).body)).toMatchObject({ service: 'api-gateway' })
    await apply(kc, [
      ...workload(namespace, 'api-gateway', 'autolytiq/api-gateway:v1.0.0'),
      ...workload(namespace, 'deal-service', 'autolytiq/deal-service:v1.0.0-crash'),
    ])
    await watchUntil(
      kc,
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      (d: KubernetesObject & { status?: { readyReplicas?: number } }) => (d.status?.readyReplicas ?? 0) >= 1,
      {
        fieldSelector: 'metadata.name=api-gateway',
        timeoutMs: 60_000,
      },
    )
    // the EndpointSlice follows the pod's readiness a moment later: the gateway sees it through its informer
    await expect.poll(async () => (await get('/health')).status, { timeout: 30_000, interval: 200 }).toBe(200)
    // deal-service pods crash-loop: never Ready, so never routed
    await watchUntil(
      kc,
      `/api/v1/namespaces/${namespace}/pods`,
      (p: KubernetesObject & { status?: { containerStatuses?: { restartCount?: number }[] } }) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2,
      {
        labelSelector: 'app.kubernetes.io/name=deal-service',
        timeoutMs: 60_000,
      },
    )
    const down = await get('/api/v1/deals/health')
    expect(down.status).toBe(503)
    expect(JSON.parse(down.body)).toMatchObject({ service: 'deal-service' })

    // a fixed image makes it Ready and routed
    await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment({
      name: 'deal-service',
      namespace,
      body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'autolytiq/deal-service:v1.0.1' }],
    })
    await expect.poll(async () => (await get('/api/v1/deals/health')).status, { timeout: 60_000, interval: 250 }).toBe(200)
  })
})

describe.skipIf(!aws)('DNS answers from Route 53 in moto', () => {
  test('NXDOMAIN until the alias is UPSERTed, then API name -> ALB name -> 127.0.0.1', async () => {
    const r53 = new Route53Client(awsConfigFor(aws!.endpoint))
    const zoneName = `dns-${id}.sandbox.test`
    const alb = albHostname(`dns-${id}`, 'us-east-1')
    const dns = await startDnsServer({ records: { [alb]: [{ type: 'A', address: '127.0.0.1' }] }, source: route53Records(r53) })
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 1 })
      resolver.setServers([dns.server])
      await expect(resolver.resolve4(`api.${zoneName}`)).rejects.toMatchObject({ code: 'ENOTFOUND' })
      const zone = await r53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: id }))
      await r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zone.HostedZone!.Id,
          ChangeBatch: {
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: `api.${zoneName}`,
                  Type: 'A',
                  AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: alb, EvaluateTargetHealth: true },
                },
              },
            ],
          },
        }),
      )
      expect(await resolver.resolve4(`api.${zoneName}`)).toEqual(['127.0.0.1'])
      expect(await resolver.resolveCname(`api.${zoneName}`)).toEqual([alb])
    } finally {
      await dns.stop()
      r53.destroy()
    }
  })
})

describe.skipIf(!kube || !aws)('External Secrets and ALB controllers', () => {
  const namespace = `sbx-ctl-${id}`
  const labels = { 'autolytiq.io/test': `sandbox-${id}` }
  const selector = `autolytiq.io/test=sandbox-${id}`
  let kc: KubeConfig
  const stops: (() => Promise<void>)[] = []
  const sm = aws ? new SecretsManagerClient(awsConfigFor(aws.endpoint)) : undefined
  const logs = makeTempDir('eso-gate')

  beforeAll(async () => {
    kc = kubeConfig()
    // the upstream CRDs are installed by the harness (the chart's crds/); this test's own operator
    // only serves stores of its controller class, so the harness's operator leaves them alone
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
    const log = (): void => {}
    const eso = await runEsoWithDeployment(kc, {
      kubeconfigPath: kube!.kubeconfigPath,
      awsEndpoint: aws!.endpoint,
      region: 'us-east-1',
      logDir: logs,
      install: esoInstall(),
      log,
      labelSelector: selector,
      controllerClass: `sandbox-${id}`,
    })
    const albc = await startAlbController(kc, { hostname: 'k8s-test.us-east-1.elb.amazonaws.com', log, resyncMs: 500, labelSelector: selector })
    stops.push(eso.stop, albc.stop, async () => removeTempDir(logs))
  })
  afterAll(async () => {
    for (const s of stops) await s()
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {})
    await kc
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: 'external-secrets.io', version: 'v1', plural: 'clustersecretstores', name: `store-${id}` })
      .catch(() => {})
    sm?.destroy()
  })

  test('the real operator runs only while the chart’s Deployment is available: ExternalSecret -> Secret, force-sync picks up a new value', async () => {
    const key = `autolytiq/sandbox-${id}/database`
    await sm!.send(new CreateSecretCommand({ Name: key, SecretString: JSON.stringify({ host: 'db-first.internal', port: 5432 }) }))
    await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: 'eso', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/autolytiq-sandbox-external-secrets' } } },
    })
    await apply(kc, [
      {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ClusterSecretStore',
        metadata: { name: `store-${id}`, labels },
        spec: {
          controller: `sandbox-${id}`,
          provider: { aws: { service: 'SecretsManager', region: 'us-east-1', auth: { jwt: { serviceAccountRef: { name: 'eso', namespace } } } } },
        },
      } as KubernetesObject,
      {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'app', namespace, labels },
        spec: {
          secretStoreRef: { name: `store-${id}`, kind: 'ClusterSecretStore' },
          target: { name: 'app-secrets', creationPolicy: 'Owner' },
          data: [{ secretKey: 'DATABASE_URL', remoteRef: { key, property: 'host' } }],
        },
      } as KubernetesObject,
    ])
    const core = kc.makeApiClient(CoreV1Api)
    const secretValue = async (): Promise<string | undefined> => {
      try {
        const s = await core.readNamespacedSecret({ name: 'app-secrets', namespace })
        return Buffer.from(s.data?.DATABASE_URL ?? '', 'base64').toString()
      } catch {
        return undefined
      }
    }
    // no operator Deployment yet: nothing is synced (as without helm.external-secrets)
    await new Promise((r) => setTimeout(r, 1500))
    expect(await secretValue()).toBeUndefined()

    await apply(kc, workload(namespace, 'external-secrets', 'ghcr.io/external-secrets/external-secrets:v0.19.2', labels))
    const es = await watchUntil(
      kc,
      `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets`,
      (o: KubernetesObject & { status?: { conditions?: { type: string; status: string; reason?: string }[] } }) =>
        Boolean(o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
      { timeoutMs: 60_000 },
    )
    expect((es as { status?: { conditions?: { reason?: string }[] } }).status?.conditions?.[0]?.reason).toBe('SecretSynced')
    expect(await secretValue()).toBe('db-first.internal')

    await sm!.send(new PutSecretValueCommand({ SecretId: key, SecretString: JSON.stringify({ host: 'db-second.internal', port: 5432 }) }))
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject({
      group: 'external-secrets.io',
      version: 'v1',
      namespace,
      plural: 'externalsecrets',
      name: 'app',
      body: [{ op: 'add', path: '/metadata/annotations', value: { 'force-sync': String(Date.now()) } }],
    })
    await expect.poll(secretValue, { timeout: 30_000, interval: 200 }).toBe('db-second.internal')
  })

  test('an alb Ingress gets the load balancer hostname once the controller Deployment runs', async () => {
    await apply(kc, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'api', namespace, labels },
        spec: {
          ingressClassName: 'alb',
          rules: [
            {
              host: 'api.example.test',
              http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api-gateway', port: { number: 8080 } } } }] },
            },
          ],
        },
      } as KubernetesObject,
      ...workload(namespace, 'aws-load-balancer-controller', 'public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0'),
    ])
    const ing = await watchUntil(
      kc,
      `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`,
      (i: KubernetesObject & { status?: { loadBalancer?: { ingress?: { hostname?: string }[] } } }) => Boolean(i.status?.loadBalancer?.ingress?.[0]?.hostname),
      { timeoutMs: 60_000 },
    )
    expect((ing as { status?: { loadBalancer?: { ingress?: { hostname?: string }[] } } }).status?.loadBalancer?.ingress?.[0]?.hostname).toBe(
      'k8s-test.us-east-1.elb.amazonaws.com',
    )
    expect((await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'api', namespace })).status?.loadBalancer?.ingress).toHaveLength(1)
  })
})

describe.skipIf(!kube)('metrics-server and the HPAs (#16 item 2)', () => {
  const namespace = `sbx-hpa-${id}`
  let kc: KubeConfig
  let autoscaler: { stop(): void } | undefined

  beforeAll(async () => {
    kc = kubeConfig()
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
  })
  afterAll(async () => {
    autoscaler?.stop()
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {})
  })

  test('HPAs get no metrics until metrics-server is installed (EKS ships none); the bounds hold either way', async () => {
    const [deployment, service] = workload(namespace, 'web', 'autolytiq/web:v1')
    const spec = (deployment as { spec: { template: { spec: { containers: { resources?: unknown }[] } } } }).spec
    spec.template.spec.containers[0]!.resources = { requests: { cpu: '100m', memory: '64Mi' } }
    await apply(kc, [
      deployment!,
      service!,
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'web', namespace },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          minReplicas: 2,
          maxReplicas: 3,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        },
      } as KubernetesObject,
    ])
    autoscaler = await startAutoscaler(kc, { namespace, pidOf: () => process.pid, log: () => {}, intervalMs: 300, metricsServerNamespace: namespace })
    const hpaApi = kc.makeApiClient(AutoscalingV2Api)
    const hpa = () => hpaApi.readNamespacedHorizontalPodAutoscaler({ name: 'web', namespace })
    const scalingActive = async () => (await hpa()).status?.conditions?.find((c) => c.type === 'ScalingActive')

    // the HPA controller (kube-controller-manager) enforces minReplicas without metrics...
    await expect
      .poll(async () => (await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas, { timeout: 30_000 })
      .toBe(2)
    // ...but without the metrics API it cannot compute a count: what `kubectl describe hpa` shows on a bare EKS cluster
    await expect.poll(async () => (await scalingActive())?.reason, { timeout: 30_000 }).toBe('FailedGetResourceMetric')
    await new Promise((r) => setTimeout(r, 1000)) // several resyncs: still nothing
    expect((await hpa()).status?.currentMetrics ?? []).toEqual([])
    expect((await scalingActive())?.message).toBe(NO_METRICS_API)

    // helm.metrics-server's Deployment becomes available: metrics flow
    await apply(kc, workload(namespace, 'metrics-server', 'registry.k8s.io/metrics-server/metrics-server:v0.7.2'))
    await expect.poll(async () => (await hpa()).status?.currentMetrics?.length ?? 0, { timeout: 30_000 }).toBeGreaterThan(0)
    expect(await scalingActive()).toMatchObject({ status: 'True', reason: 'ValidMetricFound' })
  })
})
