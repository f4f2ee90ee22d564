import type * as k8s from '@kubernetes/client-node'
import { StepFailedError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import type { WorkloadRecord } from './points.js'
import { planUndo } from './undo.js'
import {
  CHANGE_CAUSE,
  changeCause,
  generationGuard,
  imagesOf,
  readCronJob,
  readDeployment,
  replicaSetsOf,
  revisionOf,
  setAnnotations,
  type Images,
  type JsonPatchOp,
  type WorkloadChange,
} from './workloads.js'

/** Every recorded container runs its recorded image (a record may name only the service's own container). */
function runsRecorded(current: Images, recorded: Images): boolean {
  return Object.entries(recorded).every(([container, image]) => current[container] === image)
}

/**
 * Puts a workload back to a recorded rollback point. For a Deployment whose recorded revision's
 * ReplicaSet is still there with the recorded images, the whole pod template comes back (env,
 * resources and all, like `rollout undo --to-revision`); otherwise the recorded images are set.
 */
export async function planRestore(ctx: Context, namespace: string, name: string, record: WorkloadRecord): Promise<WorkloadChange> {
  const cronJob = record.kind === 'CronJob'
  const obj: k8s.V1Deployment | k8s.V1CronJob = cronJob ? await readCronJob(ctx, namespace, name) : await readDeployment(ctx, namespace, name)
  const spec = cronJob ? (obj as k8s.V1CronJob).spec?.jobTemplate?.spec?.template?.spec : (obj as k8s.V1Deployment).spec?.template?.spec
  const before = imagesOf(spec)
  const resource = cronJob ? `batch/v1 namespaces/${namespace}/cronjobs/${name}` : `apps/v1 namespaces/${namespace}/deployments/${name}`
  const base = {
    service: name,
    kind: record.kind,
    namespace,
    action: 'restore' as const,
    fromRevision: cronJob ? undefined : revisionOf(obj.metadata),
    replicas: cronJob ? undefined : (obj as k8s.V1Deployment).spec?.replicas,
    before,
  }
  if (runsRecorded(before, record.images)) return { ...base, after: before, call: `PATCH ${resource}`, patch: [], noop: 'already runs the recorded images' }

  if (!cronJob && record.revision !== undefined) {
    const rs = (await replicaSetsOf(ctx, obj as k8s.V1Deployment)).find((r) => revisionOf(r.metadata) === record.revision)
    if (rs && runsRecorded(imagesOf(rs.spec?.template?.spec), record.images))
      return { ...(await planUndo(ctx, namespace, name, record.revision)), action: 'restore' }
  }

  const prefix = cronJob ? '/spec/jobTemplate/spec/template/spec/containers' : '/spec/template/spec/containers'
  const containers = spec?.containers ?? []
  const ops: JsonPatchOp[] = []
  for (const [container, image] of Object.entries(record.images)) {
    const i = containers.findIndex((c) => c.name === container)
    if (i < 0) throw new StepFailedError(`${record.kind} ${name} has no container ${container} any more; cannot restore its recorded image ${image}`)
    ops.push({ op: 'replace', path: `${prefix}/${i}/image`, value: image })
  }
  return {
    ...base,
    after: { ...before, ...record.images },
    call: `PATCH ${resource} (json-patch: container images := recorded images)`,
    patch: [
      generationGuard(obj),
      ...ops,
      ...setAnnotations(obj, { [CHANGE_CAUSE]: changeCause(ctx, 'restore recorded images', { ...before, ...record.images }) }),
    ],
  }
}
