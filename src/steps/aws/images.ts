import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import type { Service } from '../../config/catalog.js'
import { errorMessage, StepFailedError, UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { isAwsError, listSome, pollUntil } from './util.js'

export const registryHost = (ctx: Context): string => `${ctx.env.accountId}.dkr.ecr.${ctx.env.region}.amazonaws.com`

export async function tagExists(ctx: Context, repository: string, tag: string): Promise<boolean> {
  const { DescribeImagesCommand } = await import('@aws-sdk/client-ecr')
  try {
    await (await ctx.clients.aws.ecr()).send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }))
    return true
  } catch (err) {
    if (isAwsError(err, 'ImageNotFoundException', 'RepositoryNotFoundException')) return false
    throw err
  }
}

/** Catalog services whose release tag is not in ECR yet. */
export async function servicesMissingTag(ctx: Context, tag: string): Promise<Service[]> {
  const present = await Promise.all(ctx.catalog.services.map((s) => tagExists(ctx, s.ecrRepository, tag)))
  return ctx.catalog.services.filter((_, i) => !present[i])
}

const publishParams = z
  .object({
    /** CI builds and pushes the images (plan 4.5); also `images: { source: ci }` in autolytiq.yaml. */
    skipBuild: z.boolean().default(false),
    /** Folder holding one build context per service (<sourceDir>/<service>/Dockerfile); also AUTOLYTIQ_SOURCE_DIR. */
    sourceDir: z.string().optional(),
  })
  .strict()

type PublishParams = z.infer<typeof publishParams>

/**
 * CI publishes the images when the runbook or the environment says so; AUTOLYTIQ_SKIP_BUILD=1
 * (skip) or =0 (build) overrides both for one run.
 */
function skipping(ctx: Context, p: PublishParams): boolean {
  const override = process.env.AUTOLYTIQ_SKIP_BUILD
  if (override === '1') return true
  if (override === '0') return false
  return p.skipBuild || ctx.env.images.source === 'ci'
}

const skipHint = (ctx: Context): string =>
  `set \`images: { source: ci }\` for ${ctx.envName} in autolytiq.yaml (or AUTOLYTIQ_SKIP_BUILD=1 for one run) to let CI build and push; images.verify then checks the tags`

function sourceDirFor(ctx: Context, p: PublishParams): string {
  const dir = p.sourceDir ?? process.env.AUTOLYTIQ_SOURCE_DIR
  if (!dir)
    throw new UserError(
      'images.publish needs the services source checkout to build from',
      `set AUTOLYTIQ_SOURCE_DIR to the folder holding <service>/Dockerfile, or ${skipHint(ctx)}`,
    )
  return resolve(ctx.root, dir)
}

/**
 * The nodes are x86_64 (t3/r5 node groups): an image built on an arm64 laptop without
 * --platform runs nowhere there ("exec format error"). plan() and run() share these arguments.
 */
export const NODE_PLATFORM = 'linux/amd64'
// Only the release tag: ECR tags are IMMUTABLE (terraform/modules/ecr), so the plan's moving
// :<env> tag would be refused on the next release. What runs is pinned by digest (k8s.deploy).
export const buildArgs = (image: string, tag: string, context: string): string[] => ['build', '--platform', NODE_PLATFORM, '-t', `${image}:${tag}`, context]

async function dockerLogin(ctx: Context): Promise<void> {
  const { GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr')
  const auth = (await (await ctx.clients.aws.ecr()).send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]
  const [user, password] = Buffer.from(auth?.authorizationToken ?? '', 'base64')
    .toString()
    .split(':')
  if (!password) throw new StepFailedError('ECR GetAuthorizationToken returned no token')
  registerSecret(auth?.authorizationToken)
  registerSecret(password)
  // --password-stdin: the token never appears in a process list.
  await ctx.clients.exec('docker', ['login', '--username', user ?? 'AWS', '--password-stdin', registryHost(ctx)], {
    input: password,
    signal: ctx.signal,
    timeoutMs: 60_000,
  })
}

/** Plan 4.4: builds, tags and pushes only the services whose release tag is missing in ECR. */
export const imagesPublish: Step<PublishParams> = {
  id: 'images.publish',
  title: 'Build and push missing release images',
  description:
    "Plan 4.4: docker build/tag/push of the <release> tag, only for services whose release tag is missing in ECR (tags are immutable: the plan's moving <env> tag is not pushed; k8s.deploy pins digests instead); needs a Docker engine, or `images: { source: ci }` for the environment (skipBuild in the runbook, AUTOLYTIQ_SKIP_BUILD=1 for one run) when CI publishes the images.",
  danger: 'mutating',
  params: publishParams,
  timeoutMs: 90 * 60_000,
  async plan(ctx, p) {
    const tag = ctx.env.release
    if (skipping(ctx, p)) return [`ecr DescribeImages <service>:${tag} for each service (build skipped: CI publishes)`]
    const img = `${registryHost(ctx)}/<repository>`
    return [
      `ecr DescribeImages <repository>:${tag} for each of ${ctx.catalog.services.length} services`,
      `ecr GetAuthorizationToken; docker login --username AWS --password-stdin ${registryHost(ctx)}`,
      `for each service missing ${tag}: docker ${buildArgs(img, tag, '<sourceDir>/<service>').join(' ')}; docker push ${img}:${tag}`,
    ]
  },
  async check(ctx, p) {
    const missing = await servicesMissingTag(ctx, ctx.env.release)
    if (missing.length === 0) return { status: 'done', detail: `all ${ctx.catalog.services.length} services have ${ctx.env.release}` }
    if (skipping(ctx, p)) return { status: 'skip', detail: `build skipped (CI publishes); ${missing.length} service(s) still lack ${ctx.env.release}` }
    return { status: 'todo', detail: `${ctx.env.release} missing for ${listSome(missing.map((s) => s.name))}` }
  },
  async run(ctx, p) {
    const tag = ctx.env.release
    const missing = await servicesMissingTag(ctx, tag)
    if (missing.length === 0) return
    const src = sourceDirFor(ctx, p)
    for (const s of missing)
      if (!existsSync(join(src, s.name, 'Dockerfile')))
        throw new UserError(`no Dockerfile for ${s.name} at ${join(src, s.name)}`, `check AUTOLYTIQ_SOURCE_DIR, or ${skipHint(ctx)}`)
    try {
      await ctx.clients.exec('docker', ['version', '--format', '{{.Server.Version}}'], { signal: ctx.signal, timeoutMs: 15_000 })
    } catch (err) {
      throw new UserError(`docker cannot build here: ${errorMessage(err).split('\n').slice(-1)[0]}`, skipHint(ctx))
    }
    await requireAccount(ctx)
    await dockerLogin(ctx)
    for (const s of missing) {
      const image = `${registryHost(ctx)}/${s.ecrRepository}`
      ctx.log(`building ${s.name}`)
      await ctx.clients.exec('docker', buildArgs(image, tag, join(src, s.name)), {
        signal: ctx.signal,
        timeoutMs: 30 * 60_000,
        onLine: (l) => ctx.log(`${s.name}: ${l}`),
      })
      await ctx.clients.exec('docker', ['push', `${image}:${tag}`], { signal: ctx.signal, timeoutMs: 30 * 60_000, onLine: (l) => ctx.log(`${s.name}: ${l}`) })
    }
    return { published: missing.map((s) => s.name), tag }
  },
}

const verifyParams = z
  .object({
    /** Wait this long for CI to publish missing tags before failing; default 0, the sandbox (whose CI is local and takes seconds) 120. */
    waitSeconds: z.number().int().min(0).max(7200).optional(),
  })
  .strict()

/** Plan 4.4 "Verify images": every catalog service has the release tag in ECR. */
export const imagesVerify: Step<z.infer<typeof verifyParams>> = {
  id: 'images.verify',
  title: 'Release images present in ECR',
  description: 'Plan 4.4: ECR DescribeImages confirms that every catalog service has the release tag (however it was published: CI or images.publish).',
  danger: 'read',
  params: verifyParams,
  async plan(ctx) {
    return ctx.catalog.services.map((s) => `ecr DescribeImages ${s.ecrRepository}:${ctx.env.release}`)
  },
  async check(ctx) {
    const missing = await servicesMissingTag(ctx, ctx.env.release)
    if (missing.length) return { status: 'todo', detail: `${ctx.env.release} missing for ${listSome(missing.map((s) => s.name))}` }
    return {
      status: 'done',
      detail: `${ctx.catalog.services.length} services have ${ctx.env.release}`,
      outputs: { tag: ctx.env.release, images: ctx.catalog.services.map((s) => `${registryHost(ctx)}/${s.ecrRepository}:${ctx.env.release}`) },
    }
  },
  async run(ctx, p) {
    let missing = await servicesMissingTag(ctx, ctx.env.release)
    const waitSeconds = p.waitSeconds ?? ctx.env.imagesWaitSeconds ?? 0
    if (missing.length && waitSeconds > 0)
      missing = await pollUntil(ctx, {
        what: `CI to publish ${ctx.env.release}`,
        timeoutMs: waitSeconds * 1000,
        intervalMs: 1000,
        next: `re-run once CI has published: \`autolytiq deploy --env ${ctx.envName} --from images.verify\``,
        probe: async () => {
          const m = await servicesMissingTag(ctx, ctx.env.release)
          return { done: m.length === 0, value: m, progress: `missing for ${listSome(m.map((s) => s.name))}` }
        },
      }).catch(async (err: unknown) => {
        // the deadline passed: report what is still missing below; anything else (Ctrl-C) propagates
        if (err instanceof StepFailedError) return servicesMissingTag(ctx, ctx.env.release)
        throw err
      })
    if (missing.length)
      throw new StepFailedError(
        `release ${ctx.env.release} is missing in ECR for ${missing.map((s) => s.name).join(', ')}`,
        `wait for CI to publish it, or build with images.publish (\`autolytiq deploy --env ${ctx.envName} --only images.publish\`, needs docker)`,
      )
  },
}
