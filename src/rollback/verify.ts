import type * as k8s from '@kubernetes/client-node'
import type { Context } from '../engine/types.js'
import { brokenReason, deploymentOfPod, rolloutStatus } from './rollout.js'
import { imagesOf, readCronJob, readDeployment, revisionOf, sameImages, type Images } from './workloads.js'

export interface VerifyOutcome {
  service: string
  ok: boolean
  detail: string
}

export interface VerifyTarget {
  service: string
  kind: 'Deployment' | 'CronJob'
  expected: Images
}

/** Verifies every target against one listing of the namespace's pods. */
export async function verifyWorkloads(ctx: Context, namespace: string, targets: VerifyTarget[]): Promise<VerifyOutcome[]> {
  const pods = targets.some((t) => t.kind === 'Deployment') ? (await (await ctx.clients.kube.core()).listNamespacedPod({ namespace })).items : []
  return Promise.all(targets.map((t) => verifyWorkload(ctx, namespace, t, pods)))
}

/**
 * After a rollback: the workload runs exactly the images we meant, and (Deployments) every
 * replica is updated, available and Ready on those images, with no old or broken pod left.
 */
async function verifyWorkload(ctx: Context, namespace: string, { service, kind, expected }: VerifyTarget, allPods: k8s.V1Pod[]): Promise<VerifyOutcome> {
  if (kind === 'CronJob') {
    const cj = await readCronJob(ctx, namespace, service)
    const images = imagesOf(cj.spec?.jobTemplate?.spec?.template?.spec)
    return sameImages(images, expected)
      ? { service, ok: true, detail: `job template runs ${Object.values(images).join(', ')}` }
      : { service, ok: false, detail: `job template runs ${Object.values(images).join(', ')}, expected ${Object.values(expected).join(', ')}` }
  }
  const d = await readDeployment(ctx, namespace, service)
  const images = imagesOf(d.spec?.template?.spec)
  if (!sameImages(images, expected))
    return {
      service,
      ok: false,
      detail: `template runs ${Object.values(images).join(', ')}, expected ${Object.values(expected).join(', ')} (changed by someone else?)`,
    }
  const status = rolloutStatus(d)
  if (!status.done) return { service, ok: false, detail: `rollout not complete: ${status.error ?? status.message}` }
  const available = d.status?.conditions?.find((c) => c.type === 'Available')
  if (available?.status !== 'True')
    return { service, ok: false, detail: `Available condition is ${available?.status ?? 'missing'}: ${available?.message ?? ''}` }
  // Pods being deleted are the old ReplicaSet's on their way out: neither proof nor problem.
  const pods = allPods.filter((p) => deploymentOfPod(p) === service && !p.metadata?.deletionTimestamp)
  const want = d.spec?.replicas ?? 1
  const broken = pods.map((p) => [p, brokenReason(p)] as const).filter(([, why]) => why)
  if (broken.length) return { service, ok: false, detail: `pod ${broken[0]![0].metadata?.name}: ${broken[0]![1]}` }
  const good = pods.filter((p) => isReady(p) && sameImages(imagesOf(p.spec), expected))
  if (good.length < want) return { service, ok: false, detail: `${good.length} of ${want} pods Ready on the expected images` }
  return { service, ok: true, detail: `${good.length}/${want} pods Ready on ${Object.values(expected).join(', ')} (revision ${revisionOf(d.metadata) ?? '?'})` }
}

function isReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
}
