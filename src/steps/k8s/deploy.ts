import { z } from 'zod'
import type { Context, Step } from '../../engine/types.js'
import { resolveDigests } from '../../k8s/digests.js'
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
    /**
     * Resolve each tag to its ECR digest and apply repo:tag@sha256:… (default). false only for
     * clusters whose images are not in this account's ECR (tests of the rollout machinery).
     */
    pinDigests: z.boolean().default(true),
  })
  .strict()
type Params = z.infer<typeof params>

/** The images this deploy applies: the release tags, pinned to the digests ECR holds for them. */
async function images(ctx: Context, p: Params, opts: { allowMissing?: boolean } = {}): Promise<Record<string, string>> {
  const tagged = deployImages(ctx, p.imageTags, p.registry ?? ecrRegistry(ctx.env))
  if (!p.pinDigests) return tagged
  return resolveDigests(ctx, tagged, (service) => ctx.catalog.get(service).ecrRepository, opts)
}

async function manifests(ctx: Context, p: Params, pinned: Record<string, string>) {
  return buildApp(ctx, { images: pinned, certificateArn: certificateArn(ctx) })
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
    "Plan 5.5-5.6: resolves each release tag to its ECR digest (DescribeImages), builds the environment's overlay in a temporary copy with repo:tag@sha256:… images and the ACM certificate ARN, records the current images (digests) and ReplicaSet revisions as a rollback point, then server-side applies what differs. A re-pushed tag cannot change what runs without a deploy.",
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const pinned = await images(ctx, p, { allowMissing: true })
    return [
      ...(p.pinDigests ? [`ecr DescribeImages <repository>:<tag> for each of ${Object.keys(pinned).length} services (tag -> digest)`] : []),
      `kubectl kustomize (temporary layer over ${ctx.env.kustomizeOverlay}: namespace ${ctx.env.namespace}, ${Object.keys(pinned).length} images, certificate ARN)`,
      ...Object.entries(pinned).map(([s, i]) => `  image ${s}: ${i}${p.pinDigests && !i.includes('@') ? ' (not in ECR yet: pinned at run time)' : ''}`),
      ...(await planObjects(ctx, await manifests(ctx, p, pinned))),
    ]
  },
  async check(ctx, p) {
    const pinned = await images(ctx, p)
    const r = await checkObjects(ctx, await manifests(ctx, p, pinned))
    if (r.status !== 'done') return r
    return { ...r, outputs: { namespace: ctx.env.namespace, release: ctx.env.release, images: pinned } }
  },
  async rollbackPoint(ctx) {
    const snapshot = await captureWorkloads(ctx.clients.kube, ctx.env.namespace, ctx.catalog.services)
    if (Object.keys(snapshot.services).length === 0) return undefined // first deploy: nothing to go back to
    return { kind: WORKLOADS_POINT, data: { ...snapshot } }
  },
  async run(ctx, p) {
    const pinned = await images(ctx, p)
    const objects = await manifests(ctx, p, pinned)
    const r = await applyAndReport(ctx, objects)
    ctx.log(`${r.created.length} created, ${r.updated.length} updated, ${r.unchanged} unchanged`)
    return {
      namespace: ctx.env.namespace,
      release: ctx.env.release,
      images: pinned,
      created: r.created.length,
      updated: r.updated,
    }
  },
}
