import { z } from 'zod'
import type { Context, Step } from '../../engine/types.js'
import { certificateArn, ecrRegistry } from '../../k8s/inputs.js'
import { captureWorkloads, WORKLOADS_POINT } from '../../k8s/workloads.js'
import { applyAndReport, checkObjects, planObjects } from './apply-step.js'
import { buildApp, deployImages } from './manifests.js'

const params = z
  .object({
    /** Per-service image tag instead of the release (e.g. a hotfix for one service, or a test image). */
    imageTags: z.record(z.string().regex(/^[\w][\w.-]{0,127}$/, 'an image tag')).default({}),
    /** Registry instead of <accountId>.dkr.ecr.<region>.amazonaws.com. */
    registry: z.string().min(1).optional(),
  })
  .strict()
type Params = z.infer<typeof params>

async function manifests(ctx: Context, p: Params) {
  return buildApp(ctx, { images: deployImages(ctx, p.imageTags, p.registry ?? ecrRegistry(ctx.env)), certificateArn: certificateArn(ctx) })
}

/**
 * Plan 5.5 and 5.6 without editing repo files: the overlay is built in a temporary layer with
 * <registry>/autolytiq/<service>:<release> and the ACM certificate ARN, then server-side applied
 * (field manager autolytiq). Only objects that differ are written.
 */
export const k8sDeploy: Step<Params> = {
  id: 'k8s.deploy',
  title: 'Application manifests (kustomize + server-side apply)',
  description:
    "Plan 5.5-5.6: builds the environment's overlay in a temporary copy with this release's ECR images and the ACM certificate ARN, records the current images and ReplicaSet revisions as a rollback point, then server-side applies what differs.",
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const images = deployImages(ctx, p.imageTags, p.registry ?? ecrRegistry(ctx.env))
    return [
      `kubectl kustomize (temporary layer over ${ctx.env.kustomizeOverlay}: namespace ${ctx.env.namespace}, ${Object.keys(images).length} images, certificate ARN)`,
      ...Object.entries(images).map(([s, i]) => `  image ${s}: ${i}`),
      ...(await planObjects(ctx, await manifests(ctx, p))),
    ]
  },
  async check(ctx, p) {
    const r = await checkObjects(ctx, await manifests(ctx, p))
    if (r.status !== 'done') return r
    return { ...r, outputs: { namespace: ctx.env.namespace, release: ctx.env.release, images: deployImages(ctx, p.imageTags, p.registry ?? ecrRegistry(ctx.env)) } }
  },
  async rollbackPoint(ctx) {
    const snapshot = await captureWorkloads(ctx.clients.kube, ctx.env.namespace, ctx.catalog.services)
    if (Object.keys(snapshot.services).length === 0) return undefined // first deploy: nothing to go back to
    return { kind: WORKLOADS_POINT, data: { ...snapshot } }
  },
  async run(ctx, p) {
    const objects = await manifests(ctx, p)
    const r = await applyAndReport(ctx, objects)
    ctx.log(`${r.created.length} created, ${r.updated.length} updated, ${r.unchanged} unchanged`)
    return {
      namespace: ctx.env.namespace,
      release: ctx.env.release,
      images: deployImages(ctx, p.imageTags, p.registry ?? ecrRegistry(ctx.env)),
      created: r.created.length,
      updated: r.updated,
    }
  },
}
