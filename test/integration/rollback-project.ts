/**
 * Shared by the rollback-*.test.ts files: a throw-away project whose `sandbox`-style environment
 * points at the harness' real control plane (and moto), in a namespace of its own, plus small
 * helpers to deploy and wait on Deployments the way an engineer's `kubectl` would.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node'
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr'
import type { ProvidedAws, ProvidedKube } from '../setup/global-setup.js'
import { watchUntil } from '../harness/kube-wait.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'
import type { AuditEntry } from '../../src/engine/audit.js'
import type { EnvState } from '../../src/engine/state.js'

export const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com'
export const image = (service: string, tag: string): string => `${REGISTRY}/autolytiq/${service}:${tag}`

export interface RollbackProject extends TempProject {
  envName: string
  namespace: string
  kc: KubeConfig
  apps: AppsV1Api
  core: CoreV1Api
  batch: BatchV1Api
  audit(): AuditEntry[]
  state(): EnvState
}

/**
 * A project with one sandbox environment named `envName`: the sandbox runtime file (which the
 * CLI reads for sandbox environments) points it at the harness' kubeconfig and moto.
 */
export function rollbackProject(opts: {
  kube: ProvidedKube
  aws?: ProvidedAws
  envName: string
  namespace: string
  env?: Record<string, unknown>
}): RollbackProject {
  const p = tempProject({ environments: { [opts.envName]: localEnvironment({ sandbox: true, namespace: opts.namespace, ...opts.env }) } })
  mkdirSync(join(p.home, 'sandbox'), { recursive: true })
  writeFileSync(join(p.home, 'sandbox', 'runtime.json'), JSON.stringify({ kubeconfig: opts.kube.kubeconfigPath, awsEndpoint: opts.aws?.endpoint }))
  const kc = new KubeConfig()
  kc.loadFromFile(opts.kube.kubeconfigPath)
  const stateDir = join(p.home, 'state')
  return {
    ...p,
    env: { ...p.env, ...(opts.aws ? { AWS_ACCESS_KEY_ID: opts.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: opts.aws.secretAccessKey } : {}) },
    envName: opts.envName,
    namespace: opts.namespace,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    audit: () => {
      const path = join(stateDir, `${opts.envName}.audit.jsonl`)
      if (!existsSync(path)) return []
      return readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEntry)
    },
    state: () => JSON.parse(readFileSync(join(stateDir, `${opts.envName}.json`), 'utf8')) as EnvState,
  }
}

export function deploymentManifest(name: string, img: string, replicas: number): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      // Rolling updates one pod at a time, as the base manifests do.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: img }] } },
    },
  }
}

/** Resolves when the Deployment has rolled out its current spec completely (what `kubectl rollout status` waits for). */
export function rolledOut(p: RollbackProject, name: string, timeoutMs = 60_000): Promise<V1Deployment> {
  return watchUntil<V1Deployment>(
    p.kc,
    `/apis/apps/v1/namespaces/${p.namespace}/deployments`,
    (d) => {
      const want = d.spec?.replicas ?? 1
      const s = d.status ?? {}
      return (
        d.metadata?.name === name &&
        (d.metadata.generation ?? 0) <= (s.observedGeneration ?? 0) &&
        (s.updatedReplicas ?? 0) === want &&
        (s.replicas ?? 0) === want &&
        (s.availableReplicas ?? 0) === want
      )
    },
    { timeoutMs, what: `rollout of ${name}` },
  )
}

/** `kubectl set image deployment/NAME NAME=IMAGE`, then wait for it: a deploy of a new release. */
export async function deployImage(p: RollbackProject, name: string, img: string): Promise<V1Deployment> {
  const d = await p.apps.readNamespacedDeployment({ name, namespace: p.namespace })
  d.spec!.template.spec!.containers[0]!.image = img
  await p.apps.replaceNamespacedDeployment({ name, namespace: p.namespace, body: d })
  return rolledOut(p, name)
}

export async function templateImage(p: RollbackProject, name: string): Promise<string | undefined> {
  return (await p.apps.readNamespacedDeployment({ name, namespace: p.namespace })).spec?.template.spec?.containers[0]?.image
}

/** Images of the pods of `name` that are Ready and not being deleted. */
export async function readyPodImages(p: RollbackProject, name: string): Promise<string[]> {
  const pods = await p.core.listNamespacedPod({ namespace: p.namespace, labelSelector: `app=${name}` })
  return pods.items
    .filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((pod) => pod.spec?.containers[0]?.image ?? '')
}

/** Pushes image manifests for `tags` of each service's ECR repository in moto (what CI's image build leaves behind). */
export async function seedEcrImages(aws: ProvidedAws, services: string[], tags: string[]): Promise<void> {
  const ecr = new ECRClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey } })
  const ignore = (name: string) => (err: Error) => {
    if (err.name !== name) throw err
  }
  try {
    for (const service of services) {
      const repositoryName = `autolytiq/${service}`
      await ecr.send(new CreateRepositoryCommand({ repositoryName })).catch(ignore('RepositoryAlreadyExistsException'))
      for (const tag of tags) {
        const imageManifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: { digest: `sha256:${service}-${tag}` },
          layers: [],
        })
        await ecr.send(new PutImageCommand({ repositoryName, imageTag: tag, imageManifest })).catch(ignore('ImageAlreadyExistsException'))
      }
    }
  } finally {
    ecr.destroy()
  }
}

export function json<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout) as T
}
