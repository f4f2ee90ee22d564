/**
 * Shared setup for the Phase 5/7 integration tests: a throw-away project whose `test` environment
 * points at the harness cluster (its own namespace per test), the real runner driving the real
 * steps. The real External Secrets Operator runs in the harness (test/harness/external-secrets.ts);
 * the ALB controller, which the test cluster does not run, has a stand-in here that only writes
 * what it would write: the Ingress status.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { delimiter, dirname } from 'node:path'
import { parse, stringify } from 'yaml'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { KubeConfig, KubernetesObjectApi, NetworkingV1Api, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node'
import { sandboxSecrets } from './seed-aws.js'
import { esoInstall, installEsoCrds } from '../harness/external-secrets.js'
import { awsConfigFor } from '../harness/moto.js'
import { buildContext } from '../../src/engine/context.js'
import { loadRunbook, selectSteps } from '../../src/engine/runbook.js'
import { runRunbook, type RunReport } from '../../src/engine/runner.js'
import { LocalStateBackend, StateStore } from '../../src/engine/state.js'
import type { AnyStep } from '../../src/engine/types.js'
import { k8sSteps } from '../../src/steps/k8s/index.js'
import { monitoringSteps } from '../../src/steps/monitoring/index.js'
import { localEnvironment, tempProject, type TempProject } from './project.js'
import { REPO } from './cli.js'

export const ENV = 'test'
export const CERT_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-000000000001'
export const TF_OUTPUTS = {
  vpc_id: 'vpc-0abc1234def567890',
  alb_controller_role_arn: 'arn:aws:iam::123456789012:role/autolytiq-test-alb-controller',
  external_secrets_role_arn: 'arn:aws:iam::123456789012:role/autolytiq-test-external-secrets',
}

export const suffix = (): string => randomBytes(3).toString('hex')

export interface K8sProject extends TempProject {
  namespace: string
  kubeconfig: string
}

/**
 * A project with the real k8s/ manifests and a runbook `k8s-test` listing the Phase 5/7 steps
 * (helm steps pointed at the stand-in charts), its `test` environment in its own namespace.
 */
export function k8sProject(
  /** The harness kubeconfig; undefined for steps that never talk to the cluster. */
  kubeconfigPath: string | undefined,
  envOverrides: Record<string, unknown> = {},
  runbookSteps?: { uses: string; with?: Record<string, unknown> }[],
): K8sProject {
  const namespace = `autolytiq-t-${suffix()}`
  const p = tempProject({
    environments: { [ENV]: localEnvironment({ namespace, kustomizeOverlay: 'k8s/overlays/sandbox', ...envOverrides }) },
    runbooks: {
      'k8s-test': {
        name: 'k8s-test',
        title: 'Phase 5 and 7 under test',
        description: 'The go-live Kubernetes and monitoring steps against the harness cluster',
        phases: [
          {
            id: 'kubernetes',
            number: 5,
            title: 'Kubernetes deployment',
            steps: runbookSteps ?? [
              { uses: 'helm.alb-controller', with: { chart: 'k8s/sandbox-charts/aws-load-balancer-controller', timeoutSeconds: 120 } },
              // the upstream chart from the Go module, as the harness installed it (same values: unchanged)
              { uses: 'helm.external-secrets', with: { chart: esoInstall().chartDir, timeoutSeconds: 120 } },
              { uses: 'k8s.namespaces' },
              { uses: 'k8s.secret-store', with: { timeoutSeconds: 60 } },
              { uses: 'k8s.external-secrets', with: { timeoutSeconds: 60 } },
              // no AWS in these tests, so no ECR to resolve digests from: deploy by digest is
              // tested against moto in k8s-digest.test.ts and by the sandbox go-live
              { uses: 'k8s.deploy', with: { pinDigests: false } },
              { uses: 'k8s.rollout', with: { timeoutSeconds: 120 } },
              { uses: 'k8s.migrate', with: { timeoutSeconds: 120, backoffLimit: 0 } },
              { uses: 'k8s.ingress-address', with: { timeoutSeconds: 60 } },
            ],
          },
        ],
      },
    },
  })
  cpSync(join(REPO, 'k8s'), join(p.root, 'k8s'), { recursive: true })
  const kubeconfig = join(p.root, 'kubeconfig')
  if (!kubeconfigPath) return { ...p, namespace, kubeconfig }
  // buildClients selects context autolytiq-<env>: give the harness kubeconfig's context that name
  const kc = parse(readFileSync(kubeconfigPath, 'utf8')) as { contexts: { name: string }[]; 'current-context': string }
  const from = kc['current-context']
  for (const c of kc.contexts) if (c.name === from) c.name = `autolytiq-${ENV}`
  kc['current-context'] = `autolytiq-${ENV}`
  writeFileSync(kubeconfig, stringify(kc), { mode: 0o600 })
  const config = parse(readFileSync(join(p.root, 'autolytiq.yaml'), 'utf8')) as { environments: Record<string, Record<string, unknown>> }
  config.environments[ENV]!.kubeconfig = kubeconfig
  writeFileSync(join(p.root, 'autolytiq.yaml'), stringify(config))
  return { ...p, namespace, kubeconfig }
}

/** The upstream External Secrets CRDs (the harness's chart installed them already; idempotent). */
export async function installCrds(kubectl: string, kubeconfig: string): Promise<void> {
  await installEsoCrds(kubectl, kubeconfig)
}

/**
 * Terraform's eight secrets of the `sandbox` overlay's environment (the tests' projects use it) in
 * moto's default account, the account of the operator's IRSA role: created once, never changed,
 * so tests running side by side read the same values. Their fields are the secret contract's.
 */
export async function seedOverlaySecrets(awsEndpoint: string): Promise<void> {
  const sm = new SecretsManagerClient(awsConfigFor(awsEndpoint))
  try {
    const values = sandboxSecrets({
      aws: awsConfigFor(awsEndpoint),
      envName: 'sandbox',
      clusterName: 'autolytiq-local',
      postgres: { host: 'db.autolytiq.test', port: 5432, user: 'autolytiq', password: `pw-${suffix()}`, database: 'autolytiq' },
      redis: { host: 'redis.autolytiq.test', port: 6379, password: `redis-${suffix()}` },
      jwtSecret: `jwt-${suffix()}`,
    })
    for (const [name, value] of Object.entries(values))
      await sm.send(new CreateSecretCommand({ Name: `autolytiq/sandbox/${name}`, SecretString: JSON.stringify(value) })).catch((err: { name?: string }) => {
        if (err.name !== 'ResourceExistsException') throw err
      })
  } finally {
    sm.destroy()
  }
}

/** Points this process at the project (buildContext reads AUTOLYTIQ_ROOT / AUTOLYTIQ_HOME). */
export function useProject(p: TempProject): void {
  process.env.AUTOLYTIQ_ROOT = p.root
  process.env.AUTOLYTIQ_HOME = p.home
}

/** Records what phases 1 and 2 would have: the certificate ARN and terraform outputs. */
export async function seedEarlierPhases(p: TempProject, outputs: Record<string, Record<string, unknown>> = {}): Promise<void> {
  const store = await StateStore.open(new LocalStateBackend(join(p.home, 'state', `${ENV}.json`)), ENV)
  store.setOutputs('acm.certificate', { certificateArn: CERT_ARN, status: 'ISSUED' })
  store.setOutputs('terraform.outputs', TF_OUTPUTS)
  for (const [step, o] of Object.entries(outputs)) store.setOutputs(step, o)
  await store.save()
}

export async function openState(p: TempProject): Promise<StateStore> {
  return StateStore.open(new LocalStateBackend(join(p.home, 'state', `${ENV}.json`)), ENV)
}

const registry = (): Map<string, AnyStep> => new Map([...k8sSteps, ...monitoringSteps].map((s) => [s.id, s]))

/** The real runner (state, lock, audit, rollback points) on the project's runbook, as `deploy` runs it. */
export async function runSteps(opts: { runbook?: string; only?: string[]; dryRun?: boolean } = {}): Promise<RunReport> {
  const { ctx, lock } = await buildContext({ env: ENV, dryRun: opts.dryRun, yes: true })
  const runbook = loadRunbook(ctx.root, opts.runbook ?? 'k8s-test', registry())
  const steps = selectSteps(runbook, { only: opts.only })
  return runRunbook(ctx, { command: 'deploy', runbook, steps, lock, json: true })
}

/** helm from the harness cache on PATH, as an engineer has it. */
export function putHelmOnPath(helm: string | undefined): void {
  if (!helm) return
  const dir = dirname(helm)
  if (!(process.env.PATH ?? '').split(delimiter).includes(dir)) process.env.PATH = `${dir}${delimiter}${process.env.PATH}`
}

/** resourceVersion of every object autolytiq manages in a namespace (plus the cluster store): proof a re-run wrote nothing. */
export async function resourceVersions(kc: KubeConfig, namespace: string): Promise<Record<string, string>> {
  const kinds: [string, string][] = [
    ['v1', 'ServiceAccount'],
    ['v1', 'Service'],
    ['v1', 'Secret'],
    ['apps/v1', 'Deployment'],
    ['apps/v1', 'ReplicaSet'],
    ['batch/v1', 'CronJob'],
    ['batch/v1', 'Job'],
    ['autoscaling/v2', 'HorizontalPodAutoscaler'],
    ['policy/v1', 'PodDisruptionBudget'],
    ['networking.k8s.io/v1', 'NetworkPolicy'],
    ['networking.k8s.io/v1', 'Ingress'],
    ['external-secrets.io/v1', 'ExternalSecret'],
  ]
  const api = KubernetesObjectApi.makeApiClient(kc)
  const out: Record<string, string> = {}
  for (const [apiVersion, kind] of kinds) {
    const list = await api.list(apiVersion, kind, namespace)
    for (const o of list.items) out[`${kind} ${namespace}/${o.metadata?.name}`] = o.metadata!.resourceVersion!
  }
  const store = await api.read({ apiVersion: 'external-secrets.io/v1', kind: 'ClusterSecretStore', metadata: { name: 'aws-secrets-manager' } })
  out['ClusterSecretStore aws-secrets-manager'] = store.metadata!.resourceVersion!
  const ns = await api.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } })
  out[`Namespace ${namespace}`] = ns.metadata!.resourceVersion!
  return out
}

/** The fields of the watched Ingresses the fake ALB controller reads. */
interface Watched {
  metadata: { name: string }
  status?: { loadBalancer?: { ingress?: unknown[] } }
}

export interface FakeOperators {
  stop(): void
}

/**
 * Plays the ALB controller, which the test cluster does not run: publishes a load balancer
 * hostname on Ingresses (off with publishIngress: false, to test the wait's timeout). Secrets are
 * synced by the real External Secrets Operator the harness runs.
 */
export function startFakeOperators(kc: KubeConfig, namespace: string, opts: { publishIngress?: boolean } = {}): FakeOperators {
  const net = kc.makeApiClient(NetworkingV1Api)
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  const watch = new Watch(kc)
  const controllers: AbortController[] = []
  const on = (path: string, handle: (obj: Watched) => Promise<void>) => {
    const open = () =>
      watch
        .watch(
          path,
          {},
          (type, obj) => {
            if (type === 'ADDED' || type === 'MODIFIED') void handle(obj).catch(() => undefined)
          },
          () => setTimeout(() => !stopped && open(), 200),
        )
        .then((c) => controllers.push(c))
        .catch(() => setTimeout(() => !stopped && open(), 500))
    open()
  }
  let stopped = false
  if (opts.publishIngress !== false)
    on(`/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`, async (o) => {
      if (o.status?.loadBalancer?.ingress?.length) return
      await net.patchNamespacedIngressStatus(
        {
          name: o.metadata.name,
          namespace,
          body: { status: { loadBalancer: { ingress: [{ hostname: `k8s-autolytiq-${suffix()}.us-east-1.elb.amazonaws.com` }] } } },
        },
        merge,
      )
    })
  return {
    stop() {
      stopped = true
      for (const c of controllers) c.abort()
    },
  }
}

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromFile(path)
  return kc
}
