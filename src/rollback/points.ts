import { z } from 'zod'
import type { RollbackPoint } from '../engine/state.js'
import type { Context } from '../engine/types.js'
import { WORKLOADS_POINT } from '../k8s/workloads.js'
import type { Images, WorkloadChange } from './workloads.js'

/**
 * Rollback point kinds that say what Kubernetes workloads ran before a change:
 * - `k8s.deployment-images` (written by `autolytiq rollback` itself, the shape agreed for k8s.deploy):
 *   { namespace, deployments: { <name>: { images | image, revision, replicas } } }
 * - `k8s.workloads` (what k8s.deploy records, src/k8s/workloads.ts):
 *   { namespace, services: { <name>: { kind, image, revision, replicas } } }
 */
export const DEPLOYMENT_IMAGES = 'k8s.deployment-images'
export const RESTORABLE_KINDS = [DEPLOYMENT_IMAGES, WORKLOADS_POINT]

export interface WorkloadRecord {
  kind: 'Deployment' | 'CronJob'
  images: Images
  revision?: number
  replicas?: number
}

export interface RecordedWorkloads {
  namespace: string
  workloads: Record<string, WorkloadRecord>
}

const entry = z
  .object({
    kind: z.enum(['Deployment', 'CronJob']).optional(),
    images: z.record(z.string().min(1)).optional(),
    /** single-container shorthand: the container is named after the service */
    image: z.string().min(1).optional(),
    revision: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
    replicas: z.number().int().min(0).optional(),
  })
  .passthrough()
const pointData = z
  .object({ namespace: z.string().min(1), deployments: z.record(entry).optional(), services: z.record(entry).optional() })
  .passthrough()
  .refine((d) => d.deployments || d.services, 'neither `deployments` nor `services`')

/**
 * Reads a point written by another step (or another autolytiq version) defensively: unknown
 * fields are ignored, and a workload without a recorded image is reported and left alone, never
 * guessed.
 */
export function parseRollbackPoint(point: RollbackPoint): { recorded?: RecordedWorkloads; problems: string[] } {
  const parsed = pointData.safeParse(point.data)
  if (!parsed.success) return { problems: [`rollback point of ${point.step} (${point.at}) is unreadable: ${parsed.error.issues[0]?.message}`] }
  const problems: string[] = []
  const workloads: Record<string, WorkloadRecord> = {}
  for (const [name, r] of Object.entries({ ...parsed.data.services, ...parsed.data.deployments })) {
    const images = r.images ?? (r.image ? { [name]: r.image } : undefined)
    if (!images || Object.keys(images).length === 0) {
      problems.push(`${name}: no image recorded, left as it is`)
      continue
    }
    workloads[name] = { kind: r.kind ?? 'Deployment', images, revision: r.revision, replicas: r.replicas }
  }
  return { recorded: { namespace: parsed.data.namespace, workloads }, problems }
}

/** What the Deployments about to change run now (as planned): recorded before a rollback, so the rollback can itself be undone. */
export function deploymentImagesPoint(ctx: Context, changes: WorkloadChange[]): Pick<RollbackPoint, 'kind' | 'data'> {
  const deployments: Record<string, Omit<WorkloadRecord, 'kind'>> = {}
  for (const c of changes.filter((x) => x.kind === 'Deployment')) deployments[c.service] = { images: c.before, revision: c.fromRevision, replicas: c.replicas }
  return { kind: DEPLOYMENT_IMAGES, data: { namespace: ctx.env.namespace, deployments } }
}
