import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KubeConfig } from '@kubernetes/client-node'
import { Route53Client } from '@aws-sdk/client-route-53'
import { APP_SECRET } from '../checks/secrets.js'
import type { Catalog } from '../config/catalog.js'
import type { Environment } from '../config/environments.js'
import { startCiPublisher } from './ci-publisher.js'
import { startAlertmanager } from './components/alertmanager.js'
import { startDnsServer } from './components/dns.js'
import { KUBE_CONTROLLERS, startKube } from './components/kube.js'
import { ensureEso } from './components/external-secrets.js'
import { awsConfigFor, startMoto } from './components/moto.js'
import { startRoute53Guard } from './components/route53-guard.js'
import { accessEntriesFrom, startEksAuthenticator } from './components/eks-authenticator.js'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { eksNodesFor } from './components/eks-nodes.js'
import { startNodeSimulator } from './components/node-simulator.js'
import { freePort } from './components/ports.js'
import { startPostgres } from './components/postgres.js'
import { liveProcesses, spawnProcess, type Proc } from './components/proc.js'
import { startPrometheus } from './components/prometheus.js'
import { startRedis } from './components/redis.js'
import { createTestPki } from './components/tls-certs.js'
import { fetchWithTimeout, waitFor } from './components/wait.js'
import { startWebhookSink } from './components/webhook-sink.js'
import { albHostname, startAlbController } from './controllers/alb.js'
import { startAutoscaler } from './controllers/autoscaler.js'
import { runEsoWithDeployment } from './controllers/external-secrets-operator.js'
import { startRdsDataPlane } from './controllers/rds-data-plane.js'
import { startStandinEnv } from './controllers/standin-env.js'
import { registerEbsCsiDriver, startEbsProvisioner } from './controllers/ebs-provisioner.js'
import { route53Records } from './dns-route53.js'
import { watchEndpointReadiness } from './endpoint-readiness.js'
import { ownedPrefix, startGateway, type Upstream } from './gateway.js'
import { followDeploymentImages, imageFile } from './image-follower.js'
import { startGrafanaStandin } from './grafana-standin.js'
import { writeRuntime, type SandboxComponent, type SandboxRuntime } from './runtime.js'
import { seedRedisGroup } from './seed.js'

export interface SandboxOptions {
  root: string
  /** <AUTOLYTIQ_HOME>/sandbox: runtime.json, the CA, logs. */
  dir: string
  envName: string
  env: Environment
  catalog: Catalog
  /** Use this cluster instead of starting the control plane (no node simulator then). */
  kubeconfig?: string
  log(message: string): void
}

export interface RunningSandbox {
  runtime: SandboxRuntime
  stop(): Promise<void>
}

const STANDIN = join(dirname(fileURLToPath(import.meta.url)), 'standin.js')
const DAY = 24 * 60 * 60 * 1000

/**
 * Starts everything the `sandbox` environment needs, in dependency order and in parallel where
 * possible, and returns once all of it answers. Whatever was started is stopped again if a later
 * part fails, so a failed start leaves nothing behind.
 */
export async function startSandbox(o: SandboxOptions): Promise<RunningSandbox> {
  const stops: { name: string; stop: () => Promise<void> | void }[] = []
  const components: SandboxComponent[] = []
  const stopAll = async (): Promise<void> => {
    // reverse start order: controllers and listeners before the servers they talk to
    for (const s of stops.reverse()) {
      try {
        await s.stop()
      } catch (err) {
        o.log(`stop ${s.name}: ${(err as Error).message}`)
      }
    }
  }
  const timed = async <T>(what: string, start: () => Promise<T>): Promise<T> => {
    const t0 = Date.now()
    o.log(`starting ${what}`)
    const value = await start()
    o.log(`${what} ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    return value
  }

  try {
    const logDir = join(o.dir, 'logs')
    mkdirSync(logDir, { recursive: true })

    // --- one CA for everything TLS in the sandbox: the API gateway and Redis ---
    const pki = await createTestPki(join(o.dir, 'pki'), { hostname: o.env.apiDomain })
    const names = [o.env.apiDomain, ...(o.env.grafanaDomain ? [o.env.grafanaDomain] : []), 'localhost', '127.0.0.1']
    const gatewayCert = await pki.issue({ name: 'gateway', sans: names, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 90 * DAY) })

    // moto issues a DNS-validated certificate after this many seconds (its default is 60)
    process.env.MOTO_ACM_VALIDATION_WAIT ??= '5'

    // The API server authenticates IAM identities as EKS does (k8s-aws-v1 tokens checked against
    // moto's STS, then the access entries of this environment's eks_access_entries); it learns
    // moto's address once moto is up.
    const authn = await startEksAuthenticator({ cluster: o.env.eksCluster, entries: () => accessEntriesFrom(o.env.terraformVars), log: o.log })
    stops.push({ name: 'eks authenticator', stop: authn.stop })
    components.push({ name: 'eks-authenticator', port: authn.port, url: authn.url })

    // --- the servers, in parallel ---
    const [moto, cluster, postgres, redis, alerting, eso] = await Promise.all([
      timed('moto (AWS APIs)', async () => {
        // the AWS-managed IAM policies the platform module's EKS and backup roles attach
        const m = await startMoto({ iamManagedPolicies: true, logDir })
        stops.push({ name: 'moto', stop: m.stop })
        components.push({ name: 'moto', port: m.port, url: m.endpoint })
        // autolytiq reaches moto through the Route 53 checking layer, so a change batch real
        // Route 53 refuses fails here too (moto alone accepts it)
        const guard = await startRoute53Guard({ upstream: m.endpoint, log: o.log })
        stops.push({ name: 'route53 guard', stop: guard.stop })
        components.push({ name: 'route53-guard', port: guard.port, url: guard.endpoint })
        // the sandbox's own credentials stand for the identity that ran `terraform apply`
        const sts = new STSClient(awsConfigFor(guard.endpoint))
        authn.setStsEndpoint(guard.endpoint, (await sts.send(new GetCallerIdentityCommand({}))).Arn)
        sts.destroy()
        return { ...m, endpoint: guard.endpoint, motoEndpoint: m.endpoint }
      }),
      timed(o.kubeconfig ? `Kubernetes (${o.kubeconfig})` : 'Kubernetes control plane', async () => {
        if (o.kubeconfig) {
          const kc = new KubeConfig()
          kc.loadFromFile(o.kubeconfig)
          return { kubeconfigPath: o.kubeconfig, kc, builtin: false }
        }
        // the disruption controller evaluates the PodDisruptionBudgets verify looks at
        const k = await startKube({ controllers: [...KUBE_CONTROLLERS, 'disruption-controller'], tokenWebhookUrl: authn.url })
        stops.push({ name: 'kubernetes', stop: k.stop })
        components.push({ name: 'kube-apiserver', port: Number(new URL(k.server).port), url: k.server })
        // `kubectl logs` of a service's pod shows its stand-in process's real output.
        const standinLog = (_ns: string, _pod: string, container: string): string | undefined => {
          try {
            return readFileSync(join(logDir, `standin-${container}.log`), 'utf8')
          } catch {
            return undefined
          }
        }
        // the environment's node groups with EKS's allocatable resources: what would not fit on EKS stays Pending here
        const sim = await startNodeSimulator({
          kubeConfig: k.kubeConfig(),
          nodes: eksNodesFor(o.env.region, o.env.terraformVars),
          volumeBinding: true,
          containerLogs: standinLog,
        })
        // what the aws-ebs-csi-driver add-on registers on EKS (the sandbox's Terraform has eks_addons off: moto has no CreateAddon)
        await registerEbsCsiDriver(k.kubeConfig())
        stops.push({ name: 'node simulator', stop: sim.stop })
        return { kubeconfigPath: k.kubeconfigPath, kc: k.kubeConfig(), builtin: true }
      }),
      timed('PostgreSQL', async () => {
        const p = await startPostgres()
        stops.push({ name: 'postgres', stop: p.stop })
        components.push({ name: 'postgres', port: p.port })
        return p
      }),
      timed('Redis (TLS, AUTH)', async () => {
        const r = await startRedis({ pki })
        stops.push({ name: 'redis', stop: r.stop })
        components.push({ name: 'redis', port: r.port })
        return r
      }),
      timed('Alertmanager', async () => {
        const sink = await startWebhookSink()
        stops.push({ name: 'alert receiver', stop: sink.stop })
        components.push({ name: 'alert-receiver', port: Number(new URL(sink.url).port), url: sink.url })
        const am = await startAlertmanager({ webhookUrl: sink.url })
        stops.push({ name: 'alertmanager', stop: am.stop })
        components.push({ name: 'alertmanager', port: am.port, url: am.url })
        return { sink, am }
      }),
      // the real External Secrets Operator (built once, cached); it runs once helm.external-secrets installed it
      ensureEso(),
    ])
    const aws = awsConfigFor(moto.endpoint)
    const jwtSecret = randomBytes(32).toString('hex')

    // Terraform (phase 2) creates the sandbox's AWS resources; only the ElastiCache group is made
    // here, because moto cannot serve the module's (terraform reads it).
    const { redisEndpoints } = await timed('ElastiCache group (moto gap: terraform reads it)', () =>
      seedRedisGroup({ aws, envName: o.envName, redis: { port: redis.port, password: redis.password } }, o.log),
    )

    // --- DNS: Route 53 in moto, the ALB, and the Aurora endpoints the RDS data plane serves ---
    const alb = albHostname(`autolytiq-${o.envName}`, o.env.region)
    const r53 = new Route53Client(aws)
    const dns = await startDnsServer({ records: { [alb]: [{ type: 'A', address: '127.0.0.1', ttl: 60 }] }, source: route53Records(r53) })
    stops.push({ name: 'dns', stop: () => dns.stop().finally(() => r53.destroy()) })
    components.push({ name: 'dns', port: dns.port, protocol: 'udp' })
    // Redis by its ElastiCache endpoint, as in AWS: the DNS answers it and the certificate names it
    // (moto picks the name at CreateReplicationGroup, after Redis started: Redis reloads the files)
    for (const name of redisEndpoints) dns.set(name, [{ type: 'A', address: redis.host, ttl: 60 }])
    await redis.useCertificate(
      await pki.issue({
        name: 'redis-endpoint',
        sans: [...redisEndpoints, 'localhost', '127.0.0.1'],
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 90 * DAY),
      }),
    )
    // --- the RDS data plane and the services side by side ---
    // Neither waits for phase 2: the data plane serves the Aurora cluster once terraform made it
    // and wrote its password; a stand-in gets its DATABASE_URL when its pod starts (envFrom the
    // Secret the ExternalSecret composes from terraform's autolytiq/<env>/database).
    const upstreams: Upstream[] = []
    const procs: Proc[] = []
    for (const s of o.catalog.deployments) upstreams.push({ service: s.name, port: await freePort(), prefix: ownedPrefix(s) })
    // Each stand-in plays the image its Deployment runs (misbehaving tags: err20, slow500ms).
    const imagesDir = join(o.dir, 'images')
    const images = await followDeploymentImages(
      cluster.kc,
      o.env.namespace,
      imagesDir,
      o.catalog.deployments.map((s) => s.name),
      (m) => o.log(`images: ${m}`),
    )
    stops.push({ name: 'image follower', stop: images.stop })
    const dataPlaneStarted = timed('RDS data plane (Aurora endpoints -> PostgreSQL)', async () => {
      const dataPlane = await startRdsDataPlane({ aws, envName: o.envName, postgres, dns, log: o.log })
      stops.push({ name: 'rds data plane', stop: dataPlane.stop })
    })
    const standinsStarted = timed(`${upstreams.length} service stand-ins`, async () => {
      for (const u of upstreams) {
        const s = o.catalog.get(u.service)
        const proc = spawnProcess({
          name: `standin-${s.name}`,
          command: process.execPath,
          args: [STANDIN],
          logDir,
          env: {
            SERVICE_NAME: s.name,
            PORT: String(u.port),
            HEALTH_PATH: s.healthPath ?? '/health',
            DEPENDS_ON: s.dependsOn.join(','),
            DNS_SERVERS: dns.server,
            JWT_SECRET: jwtSecret,
            IMAGE_FILE: imageFile(imagesDir, s.name),
          },
          ipc: true, // new DATABASE_URL when new pods read a changed Secret (controllers/standin-env.ts)
        })
        procs.push(proc)
        stops.push({ name: proc.name, stop: proc.stop })
        components.push({ name: proc.name, pid: proc.pid, port: u.port })
      }
      // answering is enough: without a database (no pod yet) its health says 503
      await Promise.all(
        upstreams.map((u) =>
          waitFor(
            `${u.service} stand-in`,
            async () => (await fetchWithTimeout(`http://127.0.0.1:${u.port}${o.catalog.get(u.service).healthPath}`)).status > 0,
            {
              timeoutMs: 60_000,
              intervalMs: 200,
              procs: procs.filter((p) => p.name === `standin-${u.service}`),
            },
          ),
        ),
      )
    })
    await Promise.all([dataPlaneStarted, standinsStarted])

    // --- the edge: readiness from the cluster, the gateway, DNS, Grafana ---
    const readiness = await watchEndpointReadiness(cluster.kc, o.env.namespace, (m) => o.log(`endpoints: ${m}`))
    stops.push({ name: 'endpoint watch', stop: readiness.stop })
    const grafana = await startGrafanaStandin()
    stops.push({ name: 'grafana', stop: grafana.stop })
    components.push({ name: 'grafana', port: grafana.port, url: grafana.url })
    const gateway = await startGateway({
      cert: gatewayCert.cert + pki.caCert,
      key: gatewayCert.key,
      upstreams,
      entryService: o.catalog.deployments.some((s) => s.name === 'api-gateway') ? 'api-gateway' : (upstreams[0]?.service ?? ''),
      ready: (s) => readiness.ready(s),
      namespace: o.env.namespace,
      virtualHosts: o.env.grafanaDomain ? { [o.env.grafanaDomain]: grafana.port } : {},
    })
    stops.push({ name: 'gateway', stop: gateway.stop })
    components.push(
      { name: 'gateway-https', port: gateway.httpsPort },
      { name: 'gateway-http', port: gateway.httpPort },
      { name: 'pod-network', port: gateway.podNetworkPort },
    )
    o.log(`gateway https://${o.env.apiDomain}:${gateway.httpsPort}, DNS 127.0.0.1:${dns.port} (UDP)`)

    // --- Prometheus scrapes every service the way it would scrape their pods ---
    const prometheus = await timed('Prometheus', () =>
      startPrometheus({
        alertmanager: alerting.am.hostPort,
        scrapeIntervalSeconds: 5,
        jobs: [
          { job: 'alertmanager', targets: [alerting.am.hostPort] },
          ...upstreams.map((u) => ({
            job: u.service,
            targets: [`127.0.0.1:${gateway.podNetworkPort}`],
            metricsPath: `/${u.service}/metrics`,
            labels: { namespace: o.env.namespace, service: u.service },
          })),
        ],
      }),
    )
    stops.push({ name: 'prometheus', stop: prometheus.stop })
    components.push({ name: 'prometheus', port: prometheus.port, url: prometheus.url })

    // --- the controllers: the real External Secrets Operator; what the sandbox plays (ALB, metrics-server + HPA) and CI ---
    const albController = await startAlbController(cluster.kc, { hostname: alb, log: o.log })
    stops.push({ name: 'alb controller', stop: albController.stop })
    const esoGate = await runEsoWithDeployment(cluster.kc, {
      kubeconfigPath: cluster.kubeconfigPath,
      awsEndpoint: moto.endpoint,
      region: o.env.region,
      logDir,
      install: eso,
      log: o.log,
    })
    stops.push({ name: 'external-secrets operator', stop: esoGate.stop })
    const standinEnv = await startStandinEnv(cluster.kc, {
      namespace: o.env.namespace,
      secret: APP_SECRET,
      key: 'DATABASE_URL',
      initial: Object.fromEntries(upstreams.map((u) => [u.service, ''])),
      send: (service, env) => procs.find((p) => p.name === `standin-${service}`)?.send(env) ?? false,
      log: o.log,
    })
    stops.push({ name: 'stand-in env', stop: standinEnv.stop })
    const autoscaler = await startAutoscaler(cluster.kc, {
      namespace: o.env.namespace,
      pidOf: (service) => procs.find((p) => p.name === `standin-${service}`)?.pid,
      log: o.log,
    })
    stops.push({ name: 'autoscaler', stop: autoscaler.stop })
    const provisioner = await startEbsProvisioner(cluster.kc, { log: o.log })
    stops.push({ name: 'ebs provisioner', stop: provisioner.stop })
    const ci = startCiPublisher({
      aws,
      repositories: o.catalog.services.map((s) => s.ecrRepository),
      // the release tag only: repositories are IMMUTABLE, so a moving <env> tag cannot be re-pushed
      tags: [o.env.release],
      log: o.log,
    })
    stops.push({ name: 'ci publisher', stop: ci.stop })

    const processes = liveProcesses()
    for (const c of components) c.pid ??= processes.find((p) => p.name === c.name)?.pid
    const runtime: SandboxRuntime = {
      awsEndpoint: moto.endpoint,
      kubeconfig: cluster.kubeconfigPath,
      apiUrl: `https://${o.env.apiDomain}:${gateway.httpsPort}`,
      apiHttpUrl: `http://${o.env.apiDomain}:${gateway.httpPort}`,
      imagesWaitSeconds: 120,
      dnsServers: [dns.server],
      caFile: pki.caCertPath,
      prometheusUrl: prometheus.url,
      alertmanagerUrl: alerting.am.url,
      grafanaUrl: grafana.url,
      // what only the running sandbox knows, for terraform.tfvars: moto, and the ports the Aurora
      // cluster and the Redis group must listen on (its PostgreSQL and Redis). The provider talks to
      // moto itself: the platform module makes no Route 53 change the checking layer would judge,
      // and its ~1,000 calls per plan stay off the supervisor's event loop.
      terraformVars: { aws_endpoint: moto.motoEndpoint, db_port: postgres.port, redis_port: redis.port },
      sandbox: {
        version: 1,
        supervisorPid: process.pid,
        startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
        readyAt: new Date().toISOString(),
        kube: cluster.builtin ? 'builtin' : 'external',
        namespace: o.env.namespace,
        albHostname: alb,
        alertWebhookUrl: alerting.sink.url,
        postgres: { host: '127.0.0.1', port: postgres.port, database: postgres.database },
        redis: { host: '127.0.0.1', port: redis.port },
        components,
        processes,
      },
    }
    writeRuntime(o.root, runtime)
    return { runtime, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
