import { StepFailedError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import { isAwsError } from '../steps/aws/util.js'
import { splitImage } from './inputs.js'

/**
 * Deploy by digest: a tag is a name someone can move, a digest is the image itself. `k8s.deploy`
 * resolves each release tag to its ECR digest and applies `repo:tag@sha256:…` (Kubernetes pulls
 * by the digest; the tag stays readable for people and `status`).
 */

/** 'reg/autolytiq/x:v1' + 'sha256:…' → 'reg/autolytiq/x:v1@sha256:…' (an existing pin is replaced). */
export function pinImage(image: string, digest: string): string {
  const { name, tag } = splitImage(image)
  return `${name}:${tag}@${digest}`
}

/** The digest of a pinned reference, if any. */
export function imageDigest(image: string): string | undefined {
  return splitImage(image).digest
}

/**
 * Each service's image pinned to the digest ECR holds for its tag (DescribeImages, one call per
 * service, concurrently). `repositoryOf` maps a service to its ECR repository name. A tag ECR
 * does not have fails the step, naming the phase that publishes it (allowMissing: left unpinned,
 * for --dry-run plans made before the images exist).
 */
export async function resolveDigests(
  ctx: Context,
  images: Record<string, string>,
  repositoryOf: (service: string) => string,
  opts: { allowMissing?: boolean } = {},
): Promise<Record<string, string>> {
  const { DescribeImagesCommand } = await import('@aws-sdk/client-ecr')
  const ecr = await ctx.clients.aws.ecr()
  const missing: string[] = []
  const pinned = await Promise.all(
    Object.entries(images).map(async ([service, image]): Promise<[string, string]> => {
      const { tag, digest } = splitImage(image)
      if (digest) return [service, image]
      const repositoryName = repositoryOf(service)
      try {
        const r = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: tag }] }))
        const found = r.imageDetails?.[0]?.imageDigest
        if (found) return [service, pinImage(image, found)]
      } catch (err) {
        if (!isAwsError(err, 'ImageNotFoundException', 'RepositoryNotFoundException')) throw err
      }
      missing.push(`${repositoryName}:${tag}`)
      return [service, image]
    }),
  )
  if (missing.length && !opts.allowMissing)
    throw new StepFailedError(
      `no image in ECR for ${missing.sort().join(', ')}: nothing to pin a digest to`,
      `publish the images first: \`autolytiq deploy --env ${ctx.envName} --phase 4\``,
    )
  return Object.fromEntries(pinned)
}
