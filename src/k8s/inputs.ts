import { resolve } from 'node:path'
import type { Environment } from '../config/environments.js'
import { UserError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import type { ImageOverride } from './kustomize.js'

/**
 * What the Kubernetes steps need from autolytiq.yaml and from earlier phases' state outputs, read
 * defensively: a missing value is a clear "run phase N first", never an undefined in a manifest.
 */

/** The account's ECR registry: <accountId>.dkr.ecr.<region>.amazonaws.com */
export function ecrRegistry(env: Pick<Environment, 'accountId' | 'region'>): string {
  return `${env.accountId}.dkr.ecr.${env.region}.amazonaws.com`
}

/** Each catalog service's image for this release; `tags` overrides the tag per service. */
export function releaseImages(ctx: Pick<Context, 'env' | 'catalog'>, tags: Record<string, string> = {}, registry = ecrRegistry(ctx.env)): Record<string, string> {
  for (const name of Object.keys(tags)) ctx.catalog.get(name) // unknown names: UserError listing valid ones
  return Object.fromEntries(ctx.catalog.services.map((s) => [s.name, ctx.catalog.image(s.name, registry, tags[s.name] ?? ctx.env.release)]))
}

/**
 * kustomize `images:` entries for full image references keyed by service (manifests name them
 * autolytiq/<service>). A reference pinned to a digest (`repo:tag@sha256:…`) keeps its tag too:
 * kustomize then writes `repo:tag@sha256:…`, which Kubernetes runs by digest while the tag stays
 * readable for people, `status` and the sandbox's node simulator.
 */
export function imageOverrides(ctx: Pick<Context, 'catalog'>, images: Record<string, string>): ImageOverride[] {
  return Object.entries(images).map(([service, image]) => {
    const { name, tag, digest } = splitImage(image)
    return { name: `${ctx.catalog.registryPrefix}/${service}`, newName: name, newTag: tag, ...(digest ? { digest } : {}) }
  })
}

/** 'reg/autolytiq/x:v1@sha256:…' → { name: 'reg/autolytiq/x', tag: 'v1', digest: 'sha256:…' } (a registry port is not a tag). */
export function splitImage(image: string): { name: string; tag: string; digest?: string } {
  const at = image.indexOf('@')
  const ref = at === -1 ? image : image.slice(0, at)
  const digest = at === -1 ? undefined : image.slice(at + 1)
  const slash = ref.lastIndexOf('/')
  const colon = ref.lastIndexOf(':')
  const parts = colon > slash ? { name: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { name: ref, tag: 'latest' }
  return digest ? { ...parts, digest } : parts
}

export function overlayDir(ctx: Pick<Context, 'root' | 'env'>): string {
  return resolve(ctx.root, ctx.env.kustomizeOverlay)
}

/** The ACM certificate ARN recorded by phase 1 (acm.certificate). */
export function certificateArn(ctx: Pick<Context, 'state' | 'envName'>): string {
  const arn = ctx.state.outputs('acm.certificate')?.certificateArn
  if (typeof arn !== 'string' || !arn.startsWith('arn:'))
    throw new UserError(
      'no ACM certificate ARN recorded for this environment (step acm.certificate)',
      `run phase 1 first: \`autolytiq deploy --env ${ctx.envName} --phase 1\``,
    )
  return arn
}

/** One terraform output recorded by phase 2 (terraform.outputs), as a string. */
export function terraformOutput(ctx: Pick<Context, 'state' | 'envName'>, name: string): string {
  const outputs = ctx.state.outputs('terraform.outputs')
  if (!outputs)
    throw new UserError('no terraform outputs recorded for this environment (step terraform.outputs)', `run phase 2 first: \`autolytiq deploy --env ${ctx.envName} --phase 2\``)
  // `terraform output -json` shape ({ name: { value } }) or already flattened ({ name: value })
  const raw = (outputs[name] ?? (outputs.outputs as Record<string, unknown> | undefined)?.[name]) as unknown
  const value = raw && typeof raw === 'object' && 'value' in raw ? (raw as { value: unknown }).value : raw
  if (typeof value !== 'string' || !value)
    throw new UserError(
      `terraform output ${name} is missing (recorded outputs: ${Object.keys(outputs).join(', ') || 'none'})`,
      `add output "${name}" to ${ctx.envName}'s terraform configuration, then re-run phase 2`,
    )
  return value
}
