import type * as k8s from '@kubernetes/client-node'
import { describeFailure, podFailures } from '../k8s/pods.js'
import { currentReplicaSet, deploymentRolloutStatus, podsOf } from '../k8s/rollout.js'
import type { Context } from '../engine/types.js'
import { imagesOf, readCronJob, readDeployment, sameImages, type Images } from './workloads.js'

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

const list = (images: Images): string => Object.values(images).join(', ')

/** Verifies every target against one listing of the namespace's ReplicaSets and pods. */
export async function verifyWorkloads(ctx: Context, namespace: string, targets: VerifyTarget[]): Promise<VerifyOutcome[]> {
  let rss: k8s.V1ReplicaSet[] = []
  let pods: k8s.V1Pod[] = []
  if (targets.some((t) => t.kind === 'Deployment')) {
    const [apps, core] = await Promise.all([ctx.clients.kube.apps(), ctx.clients.kube.core()])
    ;[rss, pods] = await Promise.all([
      apps.listNamespacedReplicaSet({ namespace }).then((l) => l.items),
      core.listNamespacedPod({ namespace }).then((l) => l.items),
    ])
  }
  return Promise.all(targets.map((t) => verifyWorkload(ctx, namespace, t, rss, pods)))
}

/**
 * After a rollback: the workload runs exactly the images we meant, and (Deployments) the rollout
 * is complete, Available, and every pod of the current ReplicaSet is Ready on those images with
 * none failing.
 */
async function verifyWorkload(
  ctx: Context,
  namespace: string,
  { service, kind, expected }: VerifyTarget,
  rss: k8s.V1ReplicaSet[],
  pods: k8s.V1Pod[],
): Promise<VerifyOutcome> {
  if (kind === 'CronJob') {
    const images = imagesOf((await readCronJob(ctx, namespace, service)).spec?.jobTemplate?.spec?.template?.spec)
    return sameImages(images, expected)
      ? { service, ok: true, detail: `job template runs ${list(images)}` }
      : { service, ok: false, detail: `job template runs ${list(images)}, expected ${list(expected)}` }
  }
  const d = await readDeployment(ctx, namespace, service)
  const images = imagesOf(d.spec?.template?.spec)
  if (!sameImages(images, expected))
    return { service, ok: false, detail: `template runs ${list(images)}, expected ${list(expected)} (changed by someone else?)` }
  const status = deploymentRolloutStatus(d)
  if (!status.done) return { service, ok: false, detail: `rollout not complete: ${status.failed ?? status.message}` }
  const available = d.status?.conditions?.find((c) => c.type === 'Available')
  if (available?.status !== 'True')
    return { service, ok: false, detail: `Available condition is ${available?.status ?? 'missing'}: ${available?.message ?? ''}` }
  const rs = currentReplicaSet(d, rss)
  const current = rs ? podsOf(rs, pods) : []
  const failures = current.flatMap(podFailures)
  if (failures.length) return { service, ok: false, detail: describeFailure(failures[0]!) }
  const ready = current.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && sameImages(imagesOf(p.spec), expected))
  const want = d.spec?.replicas ?? 1
  if (ready.length < want) return { service, ok: false, detail: `${ready.length} of ${want} pods Ready on ${list(expected)}` }
  return { service, ok: true, detail: `${ready.length}/${want} pods Ready on ${list(expected)} (revision ${status.revision ?? '?'})` }
}
