import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { REPO } from '../helpers/cli.js'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig } from '../../src/config/environments.js'

/**
 * The GitHub workflows cannot run here (GitHub is the one thing that cannot), so they are checked
 * the ways that can: actionlint (the real linter, built by scripts/install-deps.sh), a structural
 * schema, the CD plan step executed exactly as the workflow runs it (its matrix must be the
 * catalog), and every autolytiq command line checked against the CLI's real flags.
 */

const WORKFLOWS = join(REPO, '.github', 'workflows')

const step = z
  .object({
    id: z.string().optional(),
    name: z.string().optional(),
    if: z.string().optional(),
    uses: z
      .string()
      .regex(/^[\w.-]+\/[\w./-]+@v\d+(\.\d+)*$/, 'an action pinned to a major version (owner/repo@vN)')
      .optional(),
    run: z.string().optional(),
    with: z.record(z.unknown()).optional(),
    env: z.record(z.string()).optional(),
    shell: z.string().optional(),
  })
  .strict()
  .refine((s) => Boolean(s.uses) !== Boolean(s.run), 'a step has exactly one of `uses` and `run`')

const job = z
  .object({
    name: z.string(),
    'runs-on': z.string(),
    'timeout-minutes': z.number().int().positive(),
    needs: z.union([z.string(), z.array(z.string())]).optional(),
    environment: z.string().optional(),
    outputs: z.record(z.string()).optional(),
    strategy: z.record(z.unknown()).optional(),
    concurrency: z.record(z.unknown()).optional(),
    env: z.record(z.string()).optional(),
    if: z.string().optional(),
    steps: z.array(step).min(1),
  })
  .strict()

const workflowSchema = z
  .object({
    name: z.string(),
    on: z.record(z.unknown()),
    permissions: z.record(z.enum(['read', 'write', 'none'])),
    concurrency: z.record(z.unknown()).optional(),
    defaults: z.object({ run: z.object({ shell: z.literal('bash') }) }).optional(),
    env: z.record(z.string()).optional(),
    jobs: z.record(job),
  })
  .strict()

type Workflow = z.infer<typeof workflowSchema>
type Job = Workflow['jobs'][string]

function load(file: string): Workflow {
  const doc = parseDocument(readFileSync(join(WORKFLOWS, file), 'utf8'), { uniqueKeys: true })
  expect(doc.errors, `${file} parses`).toEqual([])
  const parsed = workflowSchema.safeParse(doc.toJS())
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return parsed.data
}

const needsOf = (j: Job): string[] => (j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs])
const runs = (j: Job): string => j.steps.map((s) => s.run ?? '').join('\n')

/** `needs.X.outputs.Y` only for a job X this job needs, and Y an output X declares; `steps.S.outputs` of a real step. */
function checkReferences(wf: Workflow): void {
  for (const [id, j] of Object.entries(wf.jobs)) {
    const text = JSON.stringify(j)
    for (const n of needsOf(j)) expect(Object.keys(wf.jobs), `${id} needs ${n}`).toContain(n)
    for (const [, other, output] of text.matchAll(/needs\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      expect(needsOf(j), `${id} reads needs.${other} without needing it`).toContain(other)
      expect(Object.keys(wf.jobs[other!]!.outputs ?? {}), `${other} declares output ${output}`).toContain(output)
    }
    for (const [, stepId] of text.matchAll(/steps\.([\w-]+)\.outputs/g)) expect(j.steps.map((s) => s.id)).toContain(stepId)
  }
}

function actionlint(): string | undefined {
  const cached = join(process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq'), 'bin', 'actionlint')
  if (existsSync(cached)) return cached
  return spawnSync('actionlint', ['-version']).status === 0 ? 'actionlint' : undefined
}

/** Runs the CD plan step's `run:` exactly as the workflow does, in a checkout, for a pushed tag. */
function runPlanStep(cd: Workflow, tag: string, extraEnv: Record<string, string> = {}): { code: number; outputs: Record<string, string>; stderr: string } {
  const plan = cd.jobs.plan!.steps.find((s) => s.id === 'plan')!
  const dir = mkdtempSync(join(tmpdir(), 'autolytiq-cd-plan-'))
  const outFile = join(dir, 'github-output')
  writeFileSync(outFile, '')
  try {
    const r = spawnSync('bash', ['-eo', 'pipefail', '-c', plan.run!], {
      cwd: REPO,
      env: { ...process.env, GITHUB_REF_NAME: tag, GITHUB_OUTPUT: outFile, ...extraEnv },
      encoding: 'utf8',
    })
    const outputs = Object.fromEntries(
      readFileSync(outFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    return { code: r.status ?? -1, outputs, stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Every `./bin/run.js <command> --flag` in a workflow names a real command and real flags. */
async function checkCliCalls(wf: Workflow): Promise<string[]> {
  const calls = [
    ...Object.values(wf.jobs)
      .map(runs)
      .join('\n')
      .matchAll(/\.\/bin\/run\.js ([a-z]+(?: [a-z]+)?)((?: --?[a-z-]+(?: [^\s|-][^\s|]*)?)*)/g),
  ]
  for (const [line, command, rest] of calls) {
    const mod = (await import(`../../src/commands/${command!.replace(' ', '/')}.ts`)) as { default: { flags: Record<string, unknown> } }
    for (const [, flag] of rest!.matchAll(/--([a-z-]+)/g)) expect(Object.keys(mod.default.flags), `${line}: --${flag}`).toContain(flag)
  }
  return calls.map(([line]) => line.trim())
}

describe('GitHub workflows', () => {
  it('pass actionlint (with shellcheck on every run: script)', () => {
    const bin = actionlint()
    if (!bin)
      throw new Error('actionlint is not installed: run `bash scripts/install-deps.sh` (it builds it from the Go module proxy into ~/.cache/autolytiq/bin)')
    const r = spawnSync(bin, ['-color=false', join(WORKFLOWS, 'ci.yml'), join(WORKFLOWS, 'cd.yml')], { cwd: REPO, encoding: 'utf8' })
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('parse, match the schema, and every needs/outputs reference resolves', () => {
    for (const file of ['ci.yml', 'cd.yml']) checkReferences(load(file))
  })

  it('CI: lint, typecheck, unit tests, then the README test command for integration', () => {
    const ci = load('ci.yml')
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push'])
    const all = Object.values(ci.jobs).map(runs).join('\n')
    for (const cmd of ['npm run lint', 'npm run typecheck', 'npx vitest run --project unit', 'npm test -- --project integration']) expect(all).toContain(cmd)
  })
})

describe('CD workflow', () => {
  const cd = load('cd.yml')
  const config = loadConfig(REPO)
  const catalog = loadCatalog(REPO)
  const release = config.environments.prod!.release

  it('runs for v* tags only', () => {
    expect(cd.on).toEqual({ push: { tags: ['v*'] } })
    expect(cd.defaults?.run.shell).toBe('bash') // bash -eo pipefail: `deploy | tee` fails the step when deploy fails
  })

  it('its matrix is the catalog: the plan step, run as the workflow runs it, emits every service and repository', () => {
    const r = runPlanStep(cd, release)
    expect(r.code, r.stderr).toBe(0)
    const matrix = JSON.parse(r.outputs.matrix!) as { service: string; repository: string }[]
    expect(matrix).toEqual(catalog.services.map((s) => ({ service: s.name, repository: s.ecrRepository })))
    expect(matrix).toHaveLength(12)
    expect(r.outputs.release).toBe(release)
    const registries = JSON.parse(r.outputs.registries!) as { registry: string }[]
    for (const env of ['staging', 'prod']) {
      const e = config.environments[env]!
      expect(registries.map((x) => x.registry)).toContain(`${e.accountId}.dkr.ecr.${e.region}.amazonaws.com`)
      expect(JSON.parse(r.outputs.regions!)[env]).toBe(e.region)
    }
    // The images job builds exactly that matrix, one job per catalog service.
    expect(cd.jobs.images!.strategy).toMatchObject({ matrix: { include: '${{ fromJSON(needs.plan.outputs.matrix) }}' } })
    expect(cd.jobs.images!.env?.REPOSITORY).toBe('${{ matrix.repository }}')
  })

  it('refuses a tag that is not the configured release, writing no outputs', () => {
    const r = runPlanStep(cd, 'v99.0.0')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`::error::tag v99.0.0 is not the release of staging in autolytiq.yaml (${config.environments.staging!.release})`)
    expect(r.outputs).toEqual({})
  })

  it('images → deploy staging → (prod approval) deploy prod with auto-rollback → verify report as an artifact', async () => {
    const { images, 'deploy-staging': staging, 'deploy-prod': prod } = cd.jobs
    expect(needsOf(images!)).toEqual(['plan'])
    expect(needsOf(staging!)).toContain('images')
    expect(runs(staging!)).toMatch(/\.\/bin\/run\.js deploy --env staging --yes\b/)
    expect(staging!.env?.AUTOLYTIQ_SKIP_BUILD).toBe('1') // CI built the images; images.verify checks them

    expect(needsOf(prod!)).toContain('deploy-staging')
    expect(prod!.environment).toBe('prod') // required reviewers (plan 4.3) gate this job
    expect(runs(prod!)).toMatch(/\.\/bin\/run\.js deploy --env prod --yes --auto-rollback\b/)
    // The checklist is signed from a reviewed answers file in this approved job, before the deploy
    // reaches checklist.go-live; only "still open" (exit 1) lets the job go on.
    const steps = prod!.steps.map((s) => s.run ?? '')
    const sign = steps.findIndex((r) => /\.\/bin\/run\.js checklist --env prod --answers (\S+\.yaml) \|\| \[ \$\? -eq 1 \]$/.test(r))
    expect(sign).toBeGreaterThan(-1)
    expect(sign).toBeLessThan(steps.findIndex((r) => r.includes('deploy --env prod')))
    const verify = prod!.steps.find((s) => s.run?.includes('verify --env prod'))!
    expect(verify.run).toMatch(/--report (\S+\.md)/)
    expect(verify.if).toBe('success() || failure()')
    const reportFile = /--report (\S+\.md)/.exec(verify.run!)![1]!
    const upload = prod!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!
    expect(upload.if).toBe('always()')
    expect(String(upload.with?.path)).toContain(reportFile)

    for (const j of [staging!, prod!]) expect(j.env?.SLACK_WEBHOOK_URL).toBe('${{ secrets.SLACK_WEBHOOK_URL }}')
    expect(await checkCliCalls(cd)).toHaveLength(4)
  })

  it('the command-line check is not vacuous: a misspelt flag is caught', async () => {
    const typo = { ...cd, jobs: { x: { ...cd.jobs.plan!, steps: [{ run: './bin/run.js deploy --env prod --yes --auto-rollbak' }] } } }
    await expect(checkCliCalls(typo)).rejects.toThrow(/--auto-rollbak/)
  })

  it('holds no credentials: secrets come only from ${{ secrets.* }}, and no AWS keys at all', () => {
    for (const file of ['ci.yml', 'cd.yml']) {
      const text = readFileSync(join(WORKFLOWS, file), 'utf8')
      expect(text).not.toMatch(/AKIA[0-9A-Z]{16}|hooks\.slack\.com|xox[abp]-|aws-access-key-id|aws-secret-access-key/)
      for (const [, name] of text.matchAll(/secrets\.([A-Z_]+)/g)) expect(['SLACK_WEBHOOK_URL']).toContain(name)
    }
  })

  it('every AWS job assumes its environment role through GitHub OIDC and checks the account before anything else', () => {
    // issue #16 item 5: one role per environment, no long-lived keys, identity checked first
    expect(cd.permissions).toMatchObject({ 'id-token': 'write', contents: 'read' })
    const r = runPlanStep(cd, release)
    expect(r.code, r.stderr).toBe(0)
    const roles = JSON.parse(r.outputs.roles!) as Record<string, string>
    const accounts = JSON.parse(r.outputs.accounts!) as Record<string, string>
    for (const env of ['staging', 'prod']) {
      expect(roles[env]).toBe(`arn:aws:iam::${config.environments[env]!.accountId}:role/autolytiq-cd-${env}`)
      expect(accounts[env]).toBe(config.environments[env]!.accountId)
    }
    const expectations: [string, string][] = [
      ['images', 'staging'],
      ['deploy-staging', 'staging'],
      ['deploy-prod', 'prod'],
    ]
    for (const [name, env] of expectations) {
      const j = cd.jobs[name]!
      const i = j.steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))
      expect(j.steps[i]!.with?.['role-to-assume'], name).toBe(`\${{ fromJSON(needs.plan.outputs.roles).${env} }}`)
      // the very next step compares the caller's account with the environment's
      expect(j.steps[i + 1]!.run, name).toMatch(/aws sts get-caller-identity --query Account[\s\S]*exit 1/)
    }
    expect(cd.jobs['deploy-prod']!.environment).toBe('prod') // prod's role trusts only this environment's jobs
  })

  it('the plan step refuses a repository the CD roles do not trust', () => {
    const r = runPlanStep(cd, release, { GITHUB_REPOSITORY: 'someone/fork' })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('the CD role of staging trusts')
  })

  it('images are built once for linux/amd64 and pushed once, to the source registry', () => {
    const r = runPlanStep(cd, release)
    const source = JSON.parse(r.outputs.source!) as { registry: string }
    const staging = config.environments.staging!
    expect(source.registry).toBe(`${staging.accountId}.dkr.ecr.${staging.region}.amazonaws.com`)
    const build = cd.jobs.images!.steps.find((s) => s.run?.includes('docker build'))!
    expect(build.run).toContain('--platform linux/amd64')
    expect(build.run!.match(/docker push/g)).toHaveLength(1)
  })
})
