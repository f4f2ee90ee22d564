import { StepFailedError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import type { DeploymentRecord } from './points.js'
import { planUndo } from './undo.js'
import {
  CHANGE_CAUSE,
  changeCause,
  generationGuard,
  imagesOf,
  readDeployment,
  replicaSetsOf,
  revisionOf,
  sameImages,
  setAnnotations,
  type JsonPatchOp,
  type WorkloadChange,
} from './workloads.js'

/**
 * Puts a Deployment back to a recorded rollback point. When the recorded revision's ReplicaSet is
 * still there with the recorded images, its whole pod template comes back (env, resources and
 * all, like `rollout undo --to-revision`); otherwise only the recorded images are set.
 */
export async function planRestore(ctx: Context, namespace: string, name: string, record: DeploymentRecord): Promise<WorkloadChange> {
  const d = await readDeployment(ctx, namespace, name)
  const before = imagesOf(d.spec?.template?.spec)
  const base = {
    service: name,
    kind: 'Deployment' as const,
    namespace,
    action: 'restore' as const,
    fromRevision: revisionOf(d.metadata),
    before,
    replicas: d.spec?.replicas,
  }
  const resource = `apps/v1 namespaces/${namespace}/deployments/${name}`
  if (sameImages(before, record.images)) return { ...base, after: before, call: `PATCH ${resource}`, patch: [], noop: 'already runs the recorded images' }

  if (record.revision !== undefined) {
    const rs = (await replicaSetsOf(ctx, d)).find((r) => revisionOf(r.metadata) === record.revision)
    if (rs && sameImages(imagesOf(rs.spec?.template?.spec), record.images))
      return { ...(await planUndo(ctx, namespace, name, record.revision)), action: 'restore' }
  }

  const containers = d.spec?.template?.spec?.containers ?? []
  const ops: JsonPatchOp[] = []
  for (const [container, image] of Object.entries(record.images)) {
    const i = containers.findIndex((c) => c.name === container)
    if (i < 0) throw new StepFailedError(`${name} has no container ${container} any more; cannot restore its recorded image ${image}`)
    ops.push({ op: 'replace', path: `/spec/template/spec/containers/${i}/image`, value: image })
  }
  return {
    ...base,
    after: { ...before, ...record.images },
    call: `PATCH ${resource} (json-patch: container images := recorded images)`,
    patch: [generationGuard(d), ...ops, ...setAnnotations(d, { [CHANGE_CAUSE]: changeCause(ctx, 'restore recorded images') })],
  }
}
