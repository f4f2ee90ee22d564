import { z } from 'zod'
import { gh, ghCurrentRepo, ghUnavailable } from '../../clients/github.js'
import { UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'

const environmentSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
    /** Deployment branch or tag patterns (plan 4.3: staging ← main, prod ← tags v*). */
    branches: z.array(z.string()).default([]),
    tags: z.array(z.string()).default([]),
    /** GitHub logins whose approval a deployment needs. */
    reviewers: z.array(z.string()).default([]),
  })
  .strict()

const params = z
  .object({
    /** owner/name; default: the repository of the current checkout (`gh repo view`). */
    repo: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/)
      .optional(),
    environments: z.array(environmentSpec).default([
      { name: 'staging', branches: ['main'], tags: [], reviewers: [] },
      { name: 'prod', branches: [], tags: ['v*'], reviewers: [] },
    ]),
    /**
     * Repository secrets that must exist. None by default: plan 4.2's AWS key pair is gone — the
     * CD jobs assume autolytiq-cd-<env> through GitHub OIDC (issue #16 item 5), and the role ARNs
     * and accounts come from autolytiq.yaml. SLACK_WEBHOOK_URL is set only when its variable is given.
     */
    secrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default([]),
    optionalSecrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)).default(['SLACK_WEBHOOK_URL']),
  })
  .strict()

type Params = z.infer<typeof params>

/** AUTOLYTIQ_GITHUB_SLACK_WEBHOOK_URL, ...: where non-interactive runs take the values from. */
export const githubSecretVar = (name: string): string => `AUTOLYTIQ_GITHUB_${name}`

async function repository(ctx: Context, p: Params): Promise<string> {
  if (p.repo) return p.repo
  const out = await ghCurrentRepo(ctx)
  if (!out) throw new UserError('cannot tell which GitHub repository to configure', 'set `with: { repo: owner/name }` for github.setup in the runbook')
  return out
}

interface Missing {
  repo: string
  secrets: string[]
  environments: string[]
}

async function missing(ctx: Context, p: Params): Promise<Missing> {
  const repo = await repository(ctx, p)
  const secrets = (JSON.parse(await gh(ctx, ['secret', 'list', '--repo', repo, '--json', 'name'])) as { name: string }[]).map((s) => s.name)
  const envs = (JSON.parse(await gh(ctx, ['api', `repos/${repo}/environments`])) as { environments?: { name: string }[] }).environments ?? []
  const wantedSecrets = [...p.secrets, ...p.optionalSecrets.filter((s) => process.env[githubSecretVar(s)])]
  return {
    repo,
    secrets: wantedSecrets.filter((s) => !secrets.includes(s)),
    environments: p.environments.filter((e) => !envs.some((x) => x.name === e.name)).map((e) => e.name),
  }
}

async function secretValue(ctx: Context, name: string): Promise<string> {
  if (name === 'AWS_ACCOUNT_ID') return ctx.env.accountId
  const value = process.env[githubSecretVar(name)] ?? (await ctx.prompt.secret(`GitHub secret ${name} (or set ${githubSecretVar(name)})`))
  registerSecret(value)
  if (!value.trim()) throw new UserError(`empty value for GitHub secret ${name}; nothing was changed`, `set ${githubSecretVar(name)}`)
  return value
}

async function ensureEnvironment(ctx: Context, repo: string, e: z.infer<typeof environmentSpec>): Promise<void> {
  const reviewers = await Promise.all(
    e.reviewers.map(async (login) => ({ type: 'User', id: Number((await gh(ctx, ['api', `users/${login}`, '--jq', '.id'])).trim()) })),
  )
  const body = {
    ...(reviewers.length ? { reviewers } : {}),
    deployment_branch_policy: e.branches.length || e.tags.length ? { protected_branches: false, custom_branch_policies: true } : null,
  }
  await gh(ctx, ['api', '-X', 'PUT', `repos/${repo}/environments/${e.name}`, '--input', '-'], JSON.stringify(body))
  if (!body.deployment_branch_policy) return
  const existing = (
    JSON.parse(await gh(ctx, ['api', `repos/${repo}/environments/${e.name}/deployment-branch-policies`])) as {
      branch_policies?: { name: string; type?: string }[]
    }
  ).branch_policies
  const want = [...e.branches.map((name) => ({ name, type: 'branch' })), ...e.tags.map((name) => ({ name, type: 'tag' }))]
  for (const w of want)
    if (!existing?.some((x) => x.name === w.name && (x.type ?? 'branch') === w.type))
      await gh(ctx, ['api', '-X', 'POST', `repos/${repo}/environments/${e.name}/deployment-branch-policies`, '-f', `name=${w.name}`, '-f', `type=${w.type}`])
}

/** Plan 4.2-4.3: GitHub Actions secrets and the staging/prod environments, through gh. */
export const githubSetup: Step<Params> = {
  id: 'github.setup',
  title: 'GitHub Actions secrets and environments',
  description:
    'Plan 4.2-4.3: repository secrets (no AWS keys: CD assumes its role through GitHub OIDC; values from AUTOLYTIQ_GITHUB_<NAME> or a hidden prompt, passed to gh on stdin) and the staging/prod environments with their branch/tag rules; skipped with a warning when gh is missing or not logged in.',
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const repo = p.repo ?? '<current repository>'
    return [
      'gh auth status',
      `gh secret list --repo ${repo} --json name; gh api repos/${repo}/environments`,
      ...p.secrets.map((s) => `gh secret set ${s} --repo ${repo} (value on stdin; only if missing)`),
      ...p.environments.map(
        (e) => `gh api -X PUT repos/${repo}/environments/${e.name} (+ deployment branch policies ${[...e.branches, ...e.tags].join(', ')})`,
      ),
    ]
  },
  async check(ctx, p) {
    const why = await ghUnavailable(ctx, 'set the repository secrets and environments by hand (plan 4.2-4.3)')
    if (why) return { status: 'skip', detail: why }
    const m = await missing(ctx, p)
    if (m.secrets.length === 0 && m.environments.length === 0)
      return { status: 'done', detail: `${m.repo}: secrets and environments present`, outputs: { repo: m.repo } }
    return {
      status: 'todo',
      detail: `${m.repo}: missing ${[...m.secrets.map((s) => `secret ${s}`), ...m.environments.map((e) => `environment ${e}`)].join(', ')}`,
    }
  },
  async run(ctx, p) {
    const m = await missing(ctx, p)
    // Every value first: a refused prompt must leave GitHub unchanged.
    const values = new Map<string, string>()
    for (const s of m.secrets) values.set(s, await secretValue(ctx, s))
    for (const [name, value] of values) await gh(ctx, ['secret', 'set', name, '--repo', m.repo], value)
    for (const e of p.environments) await ensureEnvironment(ctx, m.repo, e)
    return { repo: m.repo, secretsSet: [...values.keys()], environments: p.environments.map((e) => e.name) }
  },
}
