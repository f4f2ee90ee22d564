import type { V1CronJob, V1Deployment } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'
import type { Service } from '../config/catalog.js'
import { ExternalError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import { FIELD_MANAGER, apiMessage, isNotFound } from './api.js'

/** Rollback point kind recorded by k8s.deploy before it changes workloads. */
export const WORKLOADS_POINT = 'k8s.workloads'

export interface WorkloadState {
  kind: 'Deployment' | 'CronJob'
  /** The service container's image (the container named like the service). */
  image?: string
  /** Deployment revision (deployment.kubernetes.io/revision): what `rollout undo --to-revision` takes. */
  revision?: number
  /** spec.replicas as the HPA last set it. */
  replicas?: number
}

/** The rollback point's data: every existing catalog workload's image, revision and replicas. */
export interface WorkloadSnapshot {
  namespace: string
  services: Record<string, WorkloadState>
}

/** The container named like the service (the manifests' convention); a patch by name must not add one. */
function serviceContainerImage(containers: { name: string; image?: string }[] | undefined, service: string): string | undefined {
  return (containers ?? []).find((c) => c.name === service)?.image
}

function requireContainer(containers: { name: string }[] | undefined, service: string, what: string): void {
  if (!(containers ?? []).some((c) => c.name === service))
    throw new ExternalError(`${what} has no container named ${service}; the manifests name each service's container after the service`)
}

/** Current state of the catalog's workloads in `namespace` (services not deployed yet are left out). */
export async function captureWorkloads(kube: KubeClients, namespace: string, services: Service[]): Promise<WorkloadSnapshot> {
  const apps = await kube.apps()
  const batch = await kube.batch()
  const [deps, crons] = await Promise.all([apps.listNamespacedDeployment({ namespace }), batch.listNamespacedCronJob({ namespace })])
  const snapshot: WorkloadSnapshot = { namespace, services: {} }
  for (const s of services) {
    if (s.kind === 'Deployment') {
      const d = deps.items.find((x) => x.metadata?.name === s.name)
      if (!d) continue
      snapshot.services[s.name] = {
        kind: 'Deployment',
        image: serviceContainerImage(d.spec?.template.spec?.containers, s.name),
        revision: Number(d.metadata?.annotations?.['deployment.kubernetes.io/revision']) || undefined,
        replicas: d.spec?.replicas,
      }
    } else {
      const c = crons.items.find((x) => x.metadata?.name === s.name)
      if (!c) continue
      snapshot.services[s.name] = { kind: 'CronJob', image: serviceContainerImage(c.spec?.jobTemplate.spec?.template.spec?.containers, s.name) }
    }
  }
  return snapshot
}

export interface SetImagesResult {
  changed: string[]
  unchanged: string[]
}

/**
 * Sets catalog services' images in the cluster (the plan's `kubectl set image`), Deployments and
 * the CronJob alike; services already on the wanted image are not written. A strategic-merge patch
 * of the one container, so nothing else in the object changes. Does not wait: follow with
 * `waitForRollouts` for the Deployments.
 */
export async function setServiceImages(ctx: Pick<Context, 'clients' | 'catalog' | 'env'>, images: Record<string, string>): Promise<SetImagesResult> {
  const namespace = ctx.env.namespace
  const apps = await ctx.clients.kube.apps()
  const batch = await ctx.clients.kube.batch()
  const lib = await ctx.clients.kube.lib()
  const strategic = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.StrategicMergePatch)
  const result: SetImagesResult = { changed: [], unchanged: [] }
  for (const [name, image] of Object.entries(images)) {
    const service = ctx.catalog.get(name)
    const containers = [{ name, image }]
    try {
      if (service.kind === 'Deployment') {
        const d: V1Deployment = await apps.readNamespacedDeployment({ name, namespace })
        requireContainer(d.spec?.template.spec?.containers, name, `Deployment ${namespace}/${name}`)
        if (serviceContainerImage(d.spec?.template.spec?.containers, name) === image) {
          result.unchanged.push(name)
          continue
        }
        await apps.patchNamespacedDeployment({ name, namespace, body: { spec: { template: { spec: { containers } } } }, fieldManager: FIELD_MANAGER }, strategic)
      } else {
        const c: V1CronJob = await batch.readNamespacedCronJob({ name, namespace })
        requireContainer(c.spec?.jobTemplate.spec?.template.spec?.containers, name, `CronJob ${namespace}/${name}`)
        if (serviceContainerImage(c.spec?.jobTemplate.spec?.template.spec?.containers, name) === image) {
          result.unchanged.push(name)
          continue
        }
        await batch.patchNamespacedCronJob(
          { name, namespace, body: { spec: { jobTemplate: { spec: { template: { spec: { containers } } } } } }, fieldManager: FIELD_MANAGER },
          strategic,
        )
      }
      result.changed.push(name)
    } catch (err) {
      if (err instanceof ExternalError) throw err
      if (isNotFound(err)) throw new ExternalError(`${service.kind} ${namespace}/${name} does not exist; deploy it first (k8s.deploy)`)
      throw new ExternalError(`cannot set the image of ${service.kind} ${namespace}/${name}: ${apiMessage(err)}`)
    }
  }
  return result
}
