/**
 * The go-live checklist (plan 8.7) and the go-live tag (plan 8.8): automatic items probed against
 * real servers, manual items answered by a person (scripted here — the one thing a test cannot
 * start) with who and when recorded, --yes never answering for them, and the real git binary
 * refusing to tag until everything is done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { REPO } from '../helpers/cli.js'
import { checklistChecks, evaluateChecklist, loadAnswersFile, loadChecklist } from '../../src/engine/checklist.js'
import { renderChecklistMarkdown } from '../../src/render/checklist.js'
import { StepFailedError, UserError } from '../../src/engine/errors.js'
import { releaseTag } from '../../src/steps/release/tag.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'
import { ScriptedPrompter, testContext, type TestContext } from '../fixtures/verify-context.js'

const HOST = 'api.sandbox.autolytiq.local'
const me = userInfo().username

/** The plan's go-live checklist (Phase 8.7), verbatim. */
const PLAN: Record<string, string[]> = {
  Infrastructure: [
    'All EKS nodes are healthy',
    'All pods are Running and Ready',
    'No pending PersistentVolumeClaims',
    'HPA configured and functional',
    'PodDisruptionBudgets in place',
  ],
  Security: [
    'All secrets loaded from Secrets Manager',
    'TLS certificate valid and not expiring soon',
    'Network policies applied (if using)',
    'RBAC configured correctly',
  ],
  Data: ['Database migrations completed', 'Database backups scheduled and tested', 'Redis persistence configured'],
  Monitoring: [
    'Prometheus scraping all targets',
    'Grafana dashboards populated',
    'AlertManager configured with notification channels',
    'Key alerts firing correctly (test with synthetic failure)',
  ],
  'DNS/Networking': ['DNS records pointing to correct ALB', 'SSL/TLS working on all endpoints', 'HTTP to HTTPS redirect working'],
  Operational: ['Runbooks documented and accessible', 'On-call rotation established', 'Incident response process defined', 'Rollback procedure tested'],
  Communication: ['Stakeholders notified of go-live', 'Support team briefed', 'Documentation updated'],
}

/** A small checklist for the behaviour tests: two probed items, two manual, one of each kind combined. */
const SMALL = {
  version: 1,
  title: 'Go-live checklist',
  sections: [
    {
      id: 'security',
      title: 'Security',
      items: [
        { id: 'tls-valid', text: 'TLS certificate valid and not expiring soon', checks: ['tls.api'] },
        { id: 'tls-endpoints', text: 'SSL/TLS working on all endpoints', checks: ['tls.api', 'health.*'] },
      ],
    },
    {
      id: 'data',
      title: 'Data',
      items: [{ id: 'migrations', text: 'Database migrations completed', checks: ['step:k8s.migrate'], manual: 'Did the migration job log look right?' }],
    },
    {
      id: 'communication',
      title: 'Communication',
      items: [
        { id: 'stakeholders', text: 'Stakeholders notified of go-live', manual: 'Have stakeholders been told?' },
        { id: 'support-briefed', text: 'Support team briefed', manual: 'Does support know how to escalate?' },
      ],
    },
  ],
}

let dir: string
let root: string
let remote: string
let pki: TestPki
let dns: TestDnsServer
let gateway: TestGateway
const contexts: TestContext[] = []

async function ctx(o: { prompt?: ScriptedPrompter; yes?: boolean; env?: Record<string, unknown>; home?: TestContext } = {}) {
  const t = await testContext({
    root,
    prompt: o.prompt,
    yes: o.yes,
    env: { apiUrl: `https://${HOST}:${gateway.port}`, dnsServers: [dns.server], caFile: pki.caCertPath, ...o.env },
  })
  // Reuse one state file across "runs" when asked, like successive CLI invocations would.
  if (o.home) t.ctx.state = o.home.ctx.state
  contexts.push(t)
  return t
}

const git = (...args: string[]) => execa('git', ['-C', root, ...args])

beforeAll(async () => {
  dir = makeTempDir('checklist')
  pki = await createTestPki(join(dir, 'pki'))
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'A', address: '127.0.0.1' }] } })
  gateway = await startGateway(pki)
  // A project checkout of its own: the small checklist, and a real git repository to tag.
  root = mkdtempSync(join(tmpdir(), 'autolytiq-golive-'))
  mkdirSync(join(root, 'runbooks'))
  cpSync(join(REPO, 'services'), join(root, 'services'), { recursive: true })
  writeFileSync(join(root, 'runbooks', 'checklist.yaml'), stringify(SMALL))
  writeFileSync(join(root, 'README.md'), 'go-live test\n')
  remote = join(dir, 'origin.git')
  await execa('git', ['init', '-q', '--bare', remote])
  await git('init', '-q')
  await git('config', 'user.email', 'oncall@example.test')
  await git('config', 'user.name', 'On Call')
  await git('add', '.')
  await git('commit', '-q', '-m', 'initial')
  await git('remote', 'add', 'origin', remote)
})

afterAll(async () => {
  for (const c of contexts) c.cleanup()
  await Promise.all([gateway?.stop(), dns?.stop()])
  rmSync(root, { recursive: true, force: true })
  removeTempDir(dir)
})

describe('runbooks/checklist.yaml', () => {
  it('holds every item of the plan, in the plan’s sections and words', () => {
    const file = loadChecklist(REPO)
    const got = Object.fromEntries(file.sections.map((s) => [s.title, s.items.map((i) => i.text)]))
    expect(got).toEqual(PLAN)
  })

  it('the example answers file names every manual item and nothing else', () => {
    const file = loadChecklist(REPO)
    const signed = loadAnswersFile(join(REPO, 'runbooks', 'go-live-answers.example.yaml'), file, 'staging')
    const manual = file.sections.flatMap((s) => s.items.filter((i) => i.manual).map((i) => i.id))
    expect(Object.keys(signed.answers)).toEqual(manual)
  })

  it('names only checks that exist', async () => {
    const t = await testContext()
    contexts.push(t)
    const known = checklistChecks(t.ctx)
    const named = loadChecklist(REPO).sections.flatMap((s) => s.items.flatMap((i) => i.checks ?? []))
    for (const n of named) if (!n.startsWith('step:') && !n.endsWith('*')) expect(known.has(n), n).toBe(true)
    // Items nothing can probe are asked of a person.
    const manualOnly = loadChecklist(REPO).sections.flatMap((s) => s.items.filter((i) => !i.checks).map((i) => i.id))
    expect(manualOnly).toEqual(['rbac', 'runbooks', 'on-call', 'incident-response', 'rollback-tested', 'stakeholders', 'support-briefed', 'documentation'])
  })
})

describe('evaluating the checklist', () => {
  it('probes automatic items; leaves manual ones open without a person, even with --yes', async () => {
    const t = await ctx({ yes: true })
    const r = await evaluateChecklist(t.ctx, { ask: true })
    const by = Object.fromEntries(r.items.map((i) => [i.id, i]))
    expect(by['tls-valid']).toMatchObject({ kind: 'automatic', status: 'done' })
    expect(by['tls-valid']!.detail).toMatch(/^tls\.api: pass — valid until /)
    // health.* expanded to every catalog Deployment's health check.
    expect(by['tls-endpoints']!.checks.map((c) => c.id)).toEqual(['tls.api', ...t.ctx.catalog.deployments.map((s) => `health.${s.name}`)])
    expect(by['tls-endpoints']!.status).toBe('done')
    expect(by['migrations']).toMatchObject({ kind: 'both', status: 'failed' })
    expect(by['migrations']!.detail).toContain('k8s.migrate has not completed (status never run)')
    expect(by['stakeholders']).toMatchObject({ kind: 'manual', status: 'open', detail: 'manual: not answered' })
    expect(r.unasked).toEqual(['stakeholders', 'support-briefed'])
    expect(r).toMatchObject({ complete: false, counts: { done: 2, failed: 1, open: 2, total: 5 } })
    expect(t.ctx.state.state.checklist['stakeholders']).toBeUndefined()
  })

  it('asks a person, records who and when, audits it, and does not ask again what was answered yes', async () => {
    const first = await ctx({ prompt: new ScriptedPrompter((m) => (m.includes('Support team') ? 'no' : 'yes')) })
    first.ctx.state.step('go-live', 'k8s.migrate').status = 'done'
    const r = await evaluateChecklist(first.ctx, { ask: true })
    const prompter = first.ctx.prompt as ScriptedPrompter
    expect(prompter.asked).toEqual([
      '[Data] Database migrations completed\n  Did the migration job log look right?',
      '[Communication] Stakeholders notified of go-live\n  Have stakeholders been told?',
      '[Communication] Support team briefed\n  Does support know how to escalate?',
    ])
    const answer = first.ctx.state.state.checklist['stakeholders']!
    expect(answer).toMatchObject({ status: 'yes', by: me, automatic: false })
    expect(Date.now() - Date.parse(answer.at)).toBeLessThan(60_000)
    expect(r).toMatchObject({ complete: false, counts: { done: 4, failed: 1, open: 0 } })
    const noAt = first.ctx.state.state.checklist['support-briefed']!.at
    expect(r.items.find((i) => i.id === 'support-briefed')).toMatchObject({ status: 'failed', detail: `manual: no by ${me} at ${noAt}` })
    const audit = await first.ctx.audit.read()
    expect(audit.filter((a) => a.action === 'checklist.answer').map((a) => a.params)).toEqual([
      { item: 'migrations', answer: 'yes' },
      { item: 'stakeholders', answer: 'yes' },
      { item: 'support-briefed', answer: 'no' },
    ])

    // Next run: only the "no" is asked again.
    const again = await ctx({ prompt: new ScriptedPrompter(() => 'yes'), home: first })
    const r2 = await evaluateChecklist(again.ctx, { ask: true })
    expect((again.ctx.prompt as ScriptedPrompter).asked).toEqual(['[Communication] Support team briefed\n  Does support know how to escalate?'])
    expect(r2).toMatchObject({ complete: true, counts: { done: 5, total: 5 } })

    // The export shows every item with its evidence, who answered, and when.
    const md = renderChecklistMarkdown(r2)
    expect(md.split('\n')[0]).toBe('# Go-live checklist: test v1.0.0 — COMPLETE: 5/5 done')
    expect(md).toContain('## Security\n\n- [x] TLS certificate valid and not expiring soon\n  - automatic — tls.api: pass — valid until ')
    expect(md).toContain(`- [x] Stakeholders notified of go-live\n  - manual: yes by ${me} at ${answer.at}`)
    expect(md).toMatch(/- \[x\] Database migrations completed\n {2}- step:k8s\.migrate: pass — k8s\.migrate done; manual: yes by /)
  })

  it('each answer carries its own time and signer; "no" is what Enter picks', async () => {
    const choices: string[][] = []
    /** A person who takes a moment per question, as people do. */
    class Deliberate extends ScriptedPrompter {
      override async choose<T extends string>(message: string, options: T[]): Promise<T> {
        choices.push(options)
        await new Promise((r) => setTimeout(r, 30))
        return super.choose(message, options)
      }
    }
    const t = await ctx({ prompt: new Deliberate(() => 'yes') })
    t.ctx.state.step('go-live', 'k8s.migrate').status = 'done'
    const started = Date.now()
    await evaluateChecklist(t.ctx, { ask: true })
    expect(choices.every((c) => c[0] === 'no')).toBe(true)
    const at = ['migrations', 'stakeholders', 'support-briefed'].map((id) => Date.parse(t.ctx.state.state.checklist[id]!.at))
    expect(at[0]).toBeGreaterThanOrEqual(started + 30)
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(25)
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(25)
    expect(t.ctx.state.state.checklist['stakeholders']).toMatchObject({ by: me, via: 'terminal' })
  })

  it('an answers file for another environment signs nothing (exit 2)', async () => {
    const t = await ctx()
    const file = join(dir, 'answers-other-env.yaml')
    writeFileSync(file, stringify({ environment: 'prod', signedBy: 'Dana', answers: { stakeholders: { answer: 'yes' } } }))
    const err = await evaluateChecklist(t.ctx, { ask: true, answersFile: file }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).message).toBe(`answers file ${file} is for environment "prod", not "test"; nothing was recorded`)
    expect(t.ctx.state.state.checklist['stakeholders']).toBeUndefined()
  })

  it('does not ask a person to vouch for an item a probe sees broken', async () => {
    gateway.answers.set('/api/v1/deals/health', { status: 500, body: '{"error":"boom"}' })
    try {
      const t = await ctx({ prompt: new ScriptedPrompter(() => 'yes') })
      const r = await evaluateChecklist(t.ctx, { ask: true })
      const item = r.items.find((i) => i.id === 'tls-endpoints')!
      expect(item.status).toBe('failed')
      expect(item.detail).toContain('health.deal-service: FAIL — HTTP 500: {"error":"boom"}')
      expect((t.ctx.prompt as ScriptedPrompter).asked.some((m) => m.includes('migrations'))).toBe(false)
      const md = renderChecklistMarkdown(r)
      expect(md).toContain('- [ ] SSL/TLS working on all endpoints — **FAILED**')
      expect(md).toContain('- [ ] Database migrations completed — **FAILED**')
    } finally {
      gateway.answers.delete('/api/v1/deals/health')
    }
  })
})

describe('release.tag', () => {
  const tags = async () => (await git('tag', '-l')).stdout.split('\n').filter(Boolean)
  const p = (o: Record<string, unknown> = {}) => releaseTag.params.parse(o)

  it('refuses to tag while the checklist is incomplete', async () => {
    const t = await ctx()
    expect(await releaseTag.check(t.ctx, p())).toMatchObject({ status: 'todo', detail: 'v1.0.0-test not created yet' })
    const err = await releaseTag.run(t.ctx, p()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StepFailedError)
    expect((err as Error).message).toBe('the go-live checklist is incomplete (2/5 done); v1.0.0-test was not created')
    expect(await tags()).toEqual([])
  })

  it('tags a complete go-live (annotated), pushes it when asked, and is idempotent', async () => {
    const t = await ctx({ env: { production: true }, prompt: new ScriptedPrompter(() => 'yes') })
    t.ctx.state.step('go-live', 'k8s.migrate').status = 'done'
    expect((await evaluateChecklist(t.ctx, { ask: true })).complete).toBe(true)
    expect(await releaseTag.plan(t.ctx, p({ push: true }))).toEqual([
      'require a complete go-live checklist (runbooks/checklist.yaml)',
      `git -C ${root} tag -a v1.0.0-production -m "Production go-live v1.0.0 (test)"`,
      `git -C ${root} push origin refs/tags/v1.0.0-production`,
    ])
    const out = (await releaseTag.run(t.ctx, p({ push: true }))) as { tag: string; commit: string }
    const head = (await git('rev-parse', 'HEAD')).stdout
    expect(out).toMatchObject({ tag: 'v1.0.0-production', commit: head, pushed: true })
    expect(await tags()).toEqual(['v1.0.0-production'])
    expect((await git('cat-file', '-t', 'v1.0.0-production')).stdout).toBe('tag') // annotated, not lightweight
    expect((await git('tag', '-l', '--format=%(contents:subject)', 'v1.0.0-production')).stdout).toMatch(
      /^Production go-live v1\.0\.0 \(test\) \(run test-\d+\)$/,
    )
    expect((await execa('git', ['-C', remote, 'tag', '-l'])).stdout).toBe('v1.0.0-production')
    // Re-run: done, nothing created.
    expect(await releaseTag.check(t.ctx, p({ push: true }))).toEqual({
      status: 'done',
      detail: `v1.0.0-production → ${head.slice(0, 12)}`,
      outputs: { tag: 'v1.0.0-production', commit: head },
    })
  })

  it('tags on a machine with no git identity, signed as the user the audit log names', async () => {
    const t = await ctx({ env: { release: 'v1.0.2' }, prompt: new ScriptedPrompter(() => 'yes') })
    t.ctx.state.step('go-live', 'k8s.migrate').status = 'done'
    expect((await evaluateChecklist(t.ctx, { ask: true })).complete).toBe(true)
    // a fresh runner: no global or system configuration, no identity in the checkout or the environment
    const IDENTITY = ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM', 'EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL']
    const saved = Object.fromEntries(IDENTITY.map((k) => [k, process.env[k]]))
    for (const k of IDENTITY) delete process.env[k]
    Object.assign(process.env, { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' })
    await git('config', '--unset', 'user.email')
    await git('config', '--unset', 'user.name')
    try {
      // (a plain `git tag -a` here fails with "Please tell me who you are" wherever the host name has
      // no domain, as on this project's CI machines; the step signs as the audit user instead)
      await releaseTag.run(t.ctx, p())
      const tagger = (await git('tag', '-l', '--format=%(taggername) %(taggeremail)', 'v1.0.2-test')).stdout
      expect(tagger).toBe(`${userInfo().username} <${userInfo().username}@${hostname()}>`)
    } finally {
      for (const k of IDENTITY) delete process.env[k]
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
      await git('config', 'user.email', 'oncall@example.test')
      await git('config', 'user.name', 'On Call')
    }
  })

  it('pushes a tag left unpushed by an interrupted run (drift)', async () => {
    const t = await ctx({ env: { release: 'v1.0.1', production: true } })
    await git('tag', '-a', 'v1.0.1-production', '-m', 'created before a crash')
    expect(await releaseTag.check(t.ctx, p({ push: true }))).toMatchObject({ status: 'drift', detail: 'v1.0.1-production exists here but not on origin' })
    await releaseTag.run(t.ctx, p({ push: true }))
    expect((await execa('git', ['-C', remote, 'tag', '-l'])).stdout.split('\n')).toContain('v1.0.1-production')
  })
})
