import { z } from 'zod'
import type { Repository } from '@aws-sdk/client-ecr'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { isAwsError, listSome } from './util.js'

const params = z
  .object({
    /** Plan 4.1: keep the last 30 images. */
    keepImages: z.number().int().min(1).max(1000).default(30),
  })
  .strict()

export function lifecyclePolicy(keep: number): object {
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Keep last ${keep} images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: keep },
        action: { type: 'expire' },
      },
    ],
  }
}

/** Key order and whitespace are not meaningful: ECR may return the policy reformatted. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

type Problem = 'missing' | 'scan-on-push' | 'mutable-tags' | 'lifecycle'

interface RepoFinding {
  name: string
  problems: Problem[]
  details: string[]
}

export async function listRepositories(ctx: Context): Promise<Map<string, Repository>> {
  const { DescribeRepositoriesCommand } = await import('@aws-sdk/client-ecr')
  const ecr = await ctx.clients.aws.ecr()
  const repos = new Map<string, Repository>()
  let token: string | undefined
  do {
    const page = await ecr.send(new DescribeRepositoriesCommand({ nextToken: token, maxResults: 1000 }))
    for (const r of page.repositories ?? []) if (r.repositoryName) repos.set(r.repositoryName, r)
    token = page.nextToken
  } while (token)
  return repos
}

async function lifecycleMatches(ctx: Context, name: string, keep: number): Promise<boolean> {
  const { GetLifecyclePolicyCommand } = await import('@aws-sdk/client-ecr')
  try {
    const r = await (await ctx.clients.aws.ecr()).send(new GetLifecyclePolicyCommand({ repositoryName: name }))
    return canonical(JSON.parse(r.lifecyclePolicyText ?? '{}')) === canonical(lifecyclePolicy(keep))
  } catch (err) {
    if (isAwsError(err, 'LifecyclePolicyNotFoundException')) return false
    throw err
  }
}

async function inspect(ctx: Context, keep: number): Promise<RepoFinding[]> {
  const repos = await listRepositories(ctx)
  return Promise.all(
    ctx.catalog.services.map(async (s): Promise<RepoFinding> => {
      const name = s.ecrRepository
      const repo = repos.get(name)
      if (!repo) return { name, problems: ['missing'], details: [`${name} missing`] }
      const f: RepoFinding = { name, problems: [], details: [] }
      const add = (problem: Problem, detail: string): void => {
        f.problems.push(problem)
        f.details.push(`${name}: ${detail}`)
      }
      if (!repo.imageScanningConfiguration?.scanOnPush) add('scan-on-push', 'scan on push off')
      if (repo.imageTagMutability !== 'IMMUTABLE') add('mutable-tags', 'tags are mutable')
      if (!(await lifecycleMatches(ctx, name, keep))) add('lifecycle', 'lifecycle policy missing or different')
      // Encryption cannot be changed after creation; KMS is stronger than the plan's AES256.
      const enc = repo.encryptionConfiguration?.encryptionType
      if (enc && enc !== 'AES256' && enc !== 'KMS') ctx.warn(`${name} is encrypted with ${enc}`)
      return f
    }),
  )
}

/**
 * Terraform creates the repositories (terraform/modules/ecr, from the same catalog) in every
 * environment, the sandbox included (its root applies the platform module on moto), so they are
 * only checked here: a missing or drifted repository fails naming phase 2.
 */
function terraformOwnsThem(ctx: Context, found: RepoFinding[]): StepFailedError {
  const cliEra = found.some((f) => !f.problems.includes('missing'))
  return new StepFailedError(
    `ECR repositories are not as terraform/modules/ecr makes them: ${listSome(found.flatMap((f) => f.details))}`,
    cliEra
      ? `terraform owns them: set terraformVars ecr_adopt_existing_repositories: true for ${ctx.envName} in autolytiq.yaml (imports the existing ones, deletes nothing), then \`autolytiq deploy --env ${ctx.envName} --phase 2\``
      : `run phase 2 (terraform.plan and terraform.apply create them): \`autolytiq deploy --env ${ctx.envName} --phase 2\``,
  )
}

/** Plan 4.1: one ECR repository per catalog service (12), scan on push, immutable tags, lifecycle policy. */
export const ecrRepositories: Step<z.infer<typeof params>> = {
  id: 'ecr.repositories',
  title: 'ECR repositories for every catalog service',
  description:
    'Plan 4.1: one repository per service in services/catalog.yaml with scan on push, immutable tags and the keep-30 lifecycle. Terraform creates them (terraform/modules/ecr); this step checks they exist and fails naming phase 2 when one is missing.',
  danger: 'read',
  params,
  async plan(ctx) {
    return [`ecr DescribeRepositories; GetLifecyclePolicy for each of ${ctx.catalog.services.length} repositories (read-only: terraform creates them)`]
  },
  async check(ctx, p) {
    const found = (await inspect(ctx, p.keepImages)).filter((f) => f.problems.length)
    const total = ctx.catalog.services.length
    if (found.length === 0)
      return { status: 'done', detail: `${total} repositories as required`, outputs: { repositories: ctx.catalog.services.map((s) => s.ecrRepository) } }
    const detail = listSome(found.flatMap((f) => f.details))
    return found.every((f) => f.problems.includes('missing')) ? { status: 'todo', detail } : { status: 'drift', detail }
  },
  async run(ctx, p) {
    const found = (await inspect(ctx, p.keepImages)).filter((f) => f.problems.length)
    if (found.length) throw terraformOwnsThem(ctx, found)
    return { repositories: ctx.catalog.services.map((s) => s.ecrRepository) }
  },
  async verify(ctx, p) {
    const left = (await inspect(ctx, p.keepImages)).filter((f) => f.problems.length)
    if (left.length) throw new StepFailedError(`ECR repositories still not as required: ${listSome(left.flatMap((f) => f.details))}`)
  },
}
