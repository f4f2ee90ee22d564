/**
 * vitest globalSetup: starts the shared real components once per test run, hands their
 * endpoints to tests through `provide`/`inject` and AUTOLYTIQ_TEST_* env vars (for CLI child
 * processes), and stops everything in teardown — also when tests fail (vitest always runs the
 * teardown; the harness' process-exit hook covers a crash of vitest itself).
 *
 * For local iteration only: AUTOLYTIQ_HARNESS_SKIP=kube,prometheus,... skips components
 * (names: moto, kube, postgres, redis, prometheus, alertmanager, external-secrets). Nothing is skipped by default.
 */
import type {} from 'vitest'
import type { TestProject } from 'vitest/node'
import { startAlertmanager, type TestAlertmanager } from '../harness/alertmanager.js'
import { startHarnessEso, type HarnessEso } from '../harness/external-secrets.js'
import { startKube, type TestKube } from '../harness/kube.js'
import { startMoto, MOTO_REGION, type Moto } from '../harness/moto.js'
import { startRoute53Guard, type Route53Guard } from '../../src/sandbox/components/route53-guard.js'
import { accessEntriesFrom, startEksAuthenticator } from '../../src/sandbox/components/eks-authenticator.js'
import { loadConfig } from '../../src/config/environments.js'
import { REPO } from '../helpers/cli.js'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { startNodeSimulator, type NodeSimulator } from '../harness/node-simulator.js'
import { startPostgres, type TestPostgres } from '../harness/postgres.js'
import { startPrometheus, type TestPrometheus } from '../harness/prometheus.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { helmPath } from '../harness/tools.js'
import { startWebhookSink, type WebhookSink } from '../harness/webhook-sink.js'

export interface ProvidedAws {
  /** moto behind the Route 53 checking layer: what every test uses */
  endpoint: string
  /** moto itself (to show what moto alone accepts) */
  motoEndpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
}
export interface ProvidedKube {
  kubeconfigPath: string
  server: string
  token: string
  kubectlPath: string
  binDir: string
  nodeName: string
}
export interface ProvidedPostgres {
  url: string
  adminUrl: string
  host: string
  port: number
  user: string
  password: string
  database: string
}
export interface ProvidedRedis {
  url: string
  host: string
  port: number
  password: string
  caPath: string
}
export interface ProvidedPrometheus {
  url: string
}
export interface ProvidedAlertmanager {
  url: string
  hostPort: string
  /** The webhook receiver Alertmanager notifies; GET it to read the deliveries (JSON array). */
  webhookUrl: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** undefined only when skipped with AUTOLYTIQ_HARNESS_SKIP */
    aws: ProvidedAws | undefined
    /** The real External Secrets Operator runs against kube and moto (undefined without either, or skipped). */
    externalSecrets: { logPath: string } | undefined
    kube: ProvidedKube | undefined
    postgres: ProvidedPostgres | undefined
    redis: ProvidedRedis | undefined
    prometheus: ProvidedPrometheus | undefined
    alertmanager: ProvidedAlertmanager | undefined
    helmPath: string | undefined
  }
}

export const COMPONENTS = ['moto', 'kube', 'postgres', 'redis', 'prometheus', 'alertmanager', 'external-secrets'] as const
type Component = (typeof COMPONENTS)[number]

function skipped(): Set<Component> {
  const raw = (process.env.AUTOLYTIQ_HARNESS_SKIP ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const name of raw) {
    if (!(COMPONENTS as readonly string[]).includes(name)) {
      throw new Error(`AUTOLYTIQ_HARNESS_SKIP: unknown component "${name}" (known: ${COMPONENTS.join(', ')})`)
    }
  }
  return new Set(raw as Component[])
}

const log = (msg: string) => process.stderr.write(`[harness] ${msg}\n`)

async function timed<T>(name: string, timings: string[], start: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  const value = await start()
  timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  return value
}

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  const skip = skipped()
  if (skip.size) log(`skipping ${[...skip].join(', ')} (AUTOLYTIQ_HARNESS_SKIP; local iteration only)`)
  return startHarness(project, skip)
}

/** Starts every component not in `skip` (global-setup-moto.ts starts moto alone for the isolated project). */
export async function startHarness(project: TestProject, skip: Set<Component>): Promise<() => Promise<void>> {
  const t0 = Date.now()
  const timings: string[] = []
  const stops: (() => Promise<void>)[] = []
  const env: Record<string, string> = {}

  let moto: Moto | undefined
  let guard: Route53Guard | undefined
  let kube: TestKube | undefined
  let sim: NodeSimulator | undefined
  let postgres: TestPostgres | undefined
  let redis: TestRedis | undefined
  let prometheus: TestPrometheus | undefined
  let alertmanager: TestAlertmanager | undefined
  let sink: WebhookSink | undefined

  const teardown = async () => {
    const t1 = Date.now()
    // components are independent: stop them concurrently, and keep going when one fails so
    // nothing is left behind
    const results = await Promise.allSettled(stops.map((stop) => stop()))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length) log(`teardown errors: ${failed.map((f) => String(f.reason)).join('; ')}`)
    log(`stopped in ${((Date.now() - t1) / 1000).toFixed(1)}s`)
  }

  // The API server authenticates IAM identities as EKS does: a TokenReview webhook that checks
  // the k8s-aws-v1 token against moto's STS and the access entries of the sandbox environment's
  // eks_access_entries in autolytiq.yaml (issue #16 item 4). It learns moto's address once up.
  const authn = await startEksAuthenticator({
    cluster: 'autolytiq-sandbox',
    entries: () => accessEntriesFrom(loadConfig(REPO).environments.sandbox?.terraformVars ?? {}),
  })
  stops.push(authn.stop)

  // Everything starts in parallel; the control plane dominates (about 10 s on 2 cores).
  const starts: Promise<unknown>[] = []
  if (!skip.has('moto')) {
    starts.push(
      timed('moto', timings, async () => {
        moto = await startMoto()
        stops.push(moto.stop)
        // Tests reach moto through the Route 53 checking layer: change batches real Route 53
        // refuses are refused (src/sandbox/components/route53-guard.ts); all else passes through.
        guard = await startRoute53Guard({ upstream: moto.endpoint })
        stops.push(guard.stop)
        // the cluster creator is whoever the harness' default credentials are (they "ran terraform")
        const sts = new STSClient({ endpoint: guard.endpoint, region: MOTO_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
        authn.setStsEndpoint(guard.endpoint, (await sts.send(new GetCallerIdentityCommand({}))).Arn)
        sts.destroy()
      }),
    )
  }
  if (!skip.has('kube')) {
    starts.push(
      timed('kube', timings, async () => {
        const k = await startKube({ tokenWebhookUrl: authn.url })
        kube = k
        // the simulator goes down before the control plane it watches
        stops.push(async () => {
          await sim?.stop()
          await k.stop()
        })
        sim = await startNodeSimulator({ kubeConfig: k.kubeConfig() })
      }),
    )
  }
  if (!skip.has('postgres')) {
    starts.push(
      timed('postgres', timings, async () => {
        postgres = await startPostgres()
        stops.push(postgres.stop)
      }),
    )
  }
  if (!skip.has('redis')) {
    starts.push(
      timed('redis', timings, async () => {
        redis = await startRedis()
        stops.push(redis.stop)
      }),
    )
  }
  starts.push(
    timed('prometheus+alertmanager', timings, async () => {
      // stopped in one go: Prometheus, then Alertmanager, then the webhook sink it notifies
      stops.push(async () => {
        await prometheus?.stop()
        await alertmanager?.stop()
        await sink?.stop()
      })
      if (!skip.has('alertmanager')) {
        sink = await startWebhookSink()
        alertmanager = await startAlertmanager({ webhookUrl: sink.url })
      }
      if (!skip.has('prometheus')) {
        prometheus = await startPrometheus({
          alertmanager: alertmanager?.hostPort,
          jobs: alertmanager ? [{ job: 'alertmanager', targets: [alertmanager.hostPort] }] : [],
        })
      }
    }),
  )

  const results = await Promise.allSettled(starts)
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failures.length) {
    await teardown()
    throw new Error(`harness: ${failures.length} component(s) failed to start:\n${failures.map((f) => String(f.reason?.stack ?? f.reason)).join('\n\n')}`)
  }

  // The real External Secrets Operator needs both the API server and moto (STS, Secrets Manager):
  // its chart is installed and its process started once, for every test that syncs a secret.
  let eso: HarnessEso | undefined
  const helm = helmPath()
  if (moto && kube && helm && !skip.has('external-secrets')) {
    try {
      const t1 = Date.now()
      eso = await startHarnessEso({ kubeconfigPath: kube.kubeconfigPath, helm, awsEndpoint: moto.endpoint, region: MOTO_REGION })
      stops.unshift(eso.stop) // before the control plane and moto it talks to
      timings.push(
        `external-secrets ${((Date.now() - t1) / 1000).toFixed(1)}s (chart ${eso.helmSeconds.toFixed(1)}s, operator ${eso.operator.startSeconds.toFixed(1)}s)`,
      )
    } catch (err) {
      await teardown()
      throw err
    }
  }
  project.provide('externalSecrets', eso ? { logPath: eso.operator.proc.logPath } : undefined)

  if (moto && guard) {
    const aws = { endpoint: guard.endpoint, motoEndpoint: moto.endpoint, region: MOTO_REGION, accessKeyId: 'testing', secretAccessKey: 'testing' }
    project.provide('aws', aws)
    Object.assign(env, {
      AUTOLYTIQ_TEST_AWS_ENDPOINT: aws.endpoint,
      AUTOLYTIQ_TEST_AWS_REGION: aws.region,
      AUTOLYTIQ_TEST_AWS_ACCESS_KEY_ID: aws.accessKeyId,
      AUTOLYTIQ_TEST_AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    })
  } else project.provide('aws', undefined)

  if (kube && sim) {
    const k = {
      kubeconfigPath: kube.kubeconfigPath,
      server: kube.server,
      token: kube.token,
      kubectlPath: kube.kubectlPath,
      binDir: kube.binDir,
      nodeName: sim.nodeName,
    }
    project.provide('kube', k)
    Object.assign(env, {
      AUTOLYTIQ_TEST_KUBECONFIG: k.kubeconfigPath,
      AUTOLYTIQ_TEST_KUBE_SERVER: k.server,
      AUTOLYTIQ_TEST_KUBE_TOKEN: k.token,
      AUTOLYTIQ_TEST_KUBECTL: k.kubectlPath,
      AUTOLYTIQ_TEST_K8S_BIN_DIR: k.binDir,
      AUTOLYTIQ_TEST_KUBE_NODE: k.nodeName,
    })
  } else project.provide('kube', undefined)

  if (postgres) {
    const { url, adminUrl, host, port, user, password, database } = postgres
    project.provide('postgres', { url, adminUrl, host, port, user, password, database })
    Object.assign(env, { AUTOLYTIQ_TEST_POSTGRES_URL: url, AUTOLYTIQ_TEST_POSTGRES_ADMIN_URL: adminUrl })
  } else project.provide('postgres', undefined)

  if (redis) {
    const { url, host, port, password, caPath } = redis
    project.provide('redis', { url, host, port, password, caPath })
    Object.assign(env, {
      AUTOLYTIQ_TEST_REDIS_URL: url,
      AUTOLYTIQ_TEST_REDIS_HOST: host,
      AUTOLYTIQ_TEST_REDIS_PORT: String(port),
      AUTOLYTIQ_TEST_REDIS_PASSWORD: password,
      AUTOLYTIQ_TEST_REDIS_CA: caPath,
    })
  } else project.provide('redis', undefined)

  if (prometheus) {
    project.provide('prometheus', { url: prometheus.url })
    env.AUTOLYTIQ_TEST_PROMETHEUS_URL = prometheus.url
  } else project.provide('prometheus', undefined)

  if (alertmanager && sink) {
    project.provide('alertmanager', { url: alertmanager.url, hostPort: alertmanager.hostPort, webhookUrl: sink.url })
    Object.assign(env, { AUTOLYTIQ_TEST_ALERTMANAGER_URL: alertmanager.url, AUTOLYTIQ_TEST_ALERT_WEBHOOK_URL: sink.url })
  } else project.provide('alertmanager', undefined)

  project.provide('helmPath', helm)
  if (helm) env.AUTOLYTIQ_TEST_HELM = helm

  // Test workers are started after globalSetup and inherit this environment.
  Object.assign(process.env, env)
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (${timings.join(', ')})`)
  return teardown
}
