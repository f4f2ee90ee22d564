import { z } from 'zod'
import type { RollbackPoint } from '../engine/state.js'
import type { Context } from '../engine/types.js'
import type { Images, WorkloadChange } from './workloads.js'

/**
 * The rollback point kind shared with the k8s.deploy step, recorded before it changes images:
 * data = { namespace, deployments: { <name>: { images | image, revision, replicas } } }.
 */
export const DEPLOYMENT_IMAGES = 'k8s.deployment-images'

export interface DeploymentRecord {
  images: Images
  revision?: number
  replicas?: number
}

export interface DeploymentImagesPoint {
  namespace: string
  deployments: Record<string, DeploymentRecord>
}

const revision = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional()
const record = z
  .object({
    images: z.record(z.string().min(1)).optional(),
    /** single-container shorthand: the container is named after the service */
    image: z.string().min(1).optional(),
    revision,
    replicas: z.number().int().min(0).optional(),
  })
  .passthrough()
const pointData = z.object({ namespace: z.string().min(1), deployments: z.record(record) }).passthrough()

/**
 * Reads a point written by another step (or another autolytiq version) defensively: unknown
 * fields are ignored, a deployment without any image is skipped and reported, never guessed.
 */
export function parseDeploymentImages(point: RollbackPoint): { point?: DeploymentImagesPoint; problems: string[] } {
  const parsed = pointData.safeParse(point.data)
  if (!parsed.success) return { problems: [`rollback point of ${point.step} (${point.at}) is unreadable: ${parsed.error.issues[0]?.message}`] }
  const problems: string[] = []
  const deployments: Record<string, DeploymentRecord> = {}
  for (const [name, r] of Object.entries(parsed.data.deployments)) {
    const images = r.images ?? (r.image ? { [name]: r.image } : undefined)
    if (!images || Object.keys(images).length === 0) {
      problems.push(`${name}: no image recorded (new in that run?), left as it is`)
      continue
    }
    deployments[name] = { images, revision: r.revision, replicas: r.replicas }
  }
  return { point: { namespace: parsed.data.namespace, deployments }, problems }
}

/** What the Deployments about to change run now (as planned): recorded before a rollback, so the rollback can itself be undone. */
export function deploymentImagesPoint(ctx: Context, changes: WorkloadChange[]): Pick<RollbackPoint, 'kind' | 'data'> {
  const deployments: Record<string, DeploymentRecord> = {}
  for (const c of changes.filter((x) => x.kind === 'Deployment')) deployments[c.service] = { images: c.before, revision: c.fromRevision, replicas: c.replicas }
  return { kind: DEPLOYMENT_IMAGES, data: { namespace: ctx.env.namespace, deployments } }
}
