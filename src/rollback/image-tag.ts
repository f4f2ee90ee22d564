import type * as k8s from '@kubernetes/client-node'
import type { Service } from '../config/catalog.js'
import { UserError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import {
  CHANGE_CAUSE,
  changeCause,
  generationGuard,
  imagesOf,
  readCronJob,
  readDeployment,
  revisionOf,
  setAnnotations,
  type JsonPatchOp,
  type WorkloadChange,
} from './workloads.js'

/** Docker's tag grammar: what `docker tag` and ECR accept. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$/

export function validateTag(tag: string): void {
  if (!TAG.test(tag)) throw new UserError(`"${tag}" is not a valid image tag`, 'tags are letters, digits, _ . - (at most 128), e.g. v1.0.0')
}

/** `registry/repo:old@sha256:…` -> `registry/repo:tag`: the registry and repository stay what the deploy put there. */
export function withTag(image: string, tag: string): string {
  const noDigest = image.split('@')[0] ?? image
  const slash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  const repo = colon > slash ? noDigest.slice(0, colon) : noDigest
  return `${repo}:${tag}`
}

/**
 * The catalog's rule: the container is named after the service. Kept strict, because setting the
 * image of the wrong container (a sidecar) would "succeed" and change nothing that matters.
 */
function serviceContainer(spec: k8s.V1PodSpec | undefined, service: string, kind: string): { index: number; image: string } {
  const containers = spec?.containers ?? []
  const index = containers.findIndex((c) => c.name === service)
  if (index < 0)
    throw new UserError(
      `${kind} ${service} has no container named ${service} (containers: ${containers.map((c) => c.name).join(', ') || 'none'}); nothing was changed`,
      'the catalog expects the container to be named after the service: fix the manifest',
    )
  return { index, image: containers[index]!.image ?? '' }
}

/** `kubectl set image deployment/S S=registry/repo:T`, guarded and annotated; CronJobs get their job template's image set. */
export async function planImageTag(ctx: Context, service: Service, tag: string): Promise<WorkloadChange> {
  validateTag(tag)
  const namespace = ctx.env.namespace
  const cronJob = service.kind === 'CronJob'
  const obj: k8s.V1Deployment | k8s.V1CronJob = cronJob ? await readCronJob(ctx, namespace, service.name) : await readDeployment(ctx, namespace, service.name)
  const spec = cronJob ? (obj as k8s.V1CronJob).spec?.jobTemplate?.spec?.template?.spec : (obj as k8s.V1Deployment).spec?.template?.spec
  const { index, image } = serviceContainer(spec, service.name, service.kind)
  const target = withTag(image, tag)
  const before = imagesOf(spec)
  const after = { ...before, [service.name]: target }
  const resource = cronJob ? `batch/v1 namespaces/${namespace}/cronjobs/${service.name}` : `apps/v1 namespaces/${namespace}/deployments/${service.name}`
  const containerPath = cronJob ? `/spec/jobTemplate/spec/template/spec/containers/${index}/image` : `/spec/template/spec/containers/${index}/image`
  const base = {
    service: service.name,
    kind: service.kind,
    namespace,
    action: 'image-tag' as const,
    fromRevision: cronJob ? undefined : revisionOf(obj.metadata),
    replicas: cronJob ? undefined : (obj as k8s.V1Deployment).spec?.replicas,
    before,
    after,
    call: `PATCH ${resource} (json-patch: containers[${service.name}].image := ${target})`,
  }
  if (image === target) return { ...base, patch: [], noop: `already runs ${target}` }
  await ensureImageExists(ctx, target)
  const patch: JsonPatchOp[] = [
    generationGuard(obj),
    { op: 'replace', path: containerPath, value: target },
    ...setAnnotations(obj, { [CHANGE_CAUSE]: changeCause(ctx, `image tag ${tag}`, after) }),
  ]
  return { ...base, patch }
}

/**
 * Rolling back to a tag that was never pushed turns an incident into an outage (ImagePullBackOff
 * everywhere). For ECR images, ask ECR first; other registries are left to the rollout's fail-fast.
 */
async function ensureImageExists(ctx: Context, image: string): Promise<void> {
  const [host = '', ...rest] = image.split('/')
  if (!ECR_HOST.test(host) || rest.length === 0) return
  const repositoryName = rest.join('/').replace(/:[^:/]+$/, '')
  const imageTag = image.slice(image.lastIndexOf(':') + 1)
  const { DescribeImagesCommand } = await import('@aws-sdk/client-ecr')
  const ecr = await ctx.clients.aws.ecr()
  try {
    await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }))
  } catch (err) {
    const name = (err as Error).name
    if (name === 'ImageNotFoundException' || name === 'RepositoryNotFoundException')
      throw new UserError(
        `ECR has no image ${repositoryName}:${imageTag} (${name}); nothing was changed`,
        `list the tags that exist: \`aws ecr describe-images --repository-name ${repositoryName} --query 'imageDetails[].imageTags'\``,
      )
    throw err
  }
}
