import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { tempProject, type TempProject } from '../helpers/project.js'

/**
 * cicd.verify through the real CLI. GitHub cannot run here, so `gh` is a STAND-IN (named as
 * such): a small script on PATH that answers `gh auth status`, `gh run list --json` and
 * `gh run view --json jobs` with the JSON shapes the real gh prints, and logs every call so the
 * test can check the exact command lines the step runs.
 */

const REPO_NAME = 'acme/desk-studio'
const URL = (id: number): string => `https://github.com/${REPO_NAME}/actions/runs/${id}`

interface Scenario {
  loggedIn: boolean
  /** Successive answers of `gh run list` (the last one repeats). */
  runs: unknown[][]
  jobs?: unknown[]
}

const FAKE_GH = `#!${process.execPath}
// STAND-IN for the GitHub CLI (GitHub cannot run here): answers from $FAKE_GH_SCENARIO, logs calls to $FAKE_GH_LOG.
const fs = require('fs')
const args = process.argv.slice(2)
const log = process.env.FAKE_GH_LOG
const previous = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)) : []
fs.appendFileSync(log, JSON.stringify(args) + '\\n')
const sc = JSON.parse(fs.readFileSync(process.env.FAKE_GH_SCENARIO, 'utf8'))
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n')
if (args[0] === 'auth' && args[1] === 'status') {
  if (sc.loggedIn) { process.stderr.write('github.com\\n  ✓ Logged in to github.com account octo (GH_TOKEN)\\n'); process.exit(0) }
  process.stderr.write('You are not logged into any GitHub hosts. To log in, run: gh auth login\\n'); process.exit(1)
}
if (args[0] === 'run' && args[1] === 'list') {
  const n = previous.filter((a) => a[0] === 'run' && a[1] === 'list').length
  out(sc.runs[Math.min(n, sc.runs.length - 1)])
} else if (args[0] === 'run' && args[1] === 'view') out({ jobs: sc.jobs ?? [] })
else { process.stderr.write('unexpected gh call: ' + args.join(' ') + '\\n'); process.exit(2) }
`

function ghRun(id: number, status: string, conclusion = ''): Record<string, unknown> {
  return { databaseId: id, status, conclusion, url: URL(id), headBranch: 'v1.0.0', event: 'push', createdAt: '2026-11-26T10:00:00Z' }
}

const job = (name: string, status: string, conclusion = '') => ({ name, status, conclusion, url: `${URL(1)}/job/${name.length}` })

let p: TempProject
let bin: string

function scenario(s: Scenario): void {
  writeFileSync(join(p.root, 'scenario.json'), JSON.stringify(s))
}

function ghCalls(): string[] {
  try {
    return readFileSync(join(p.root, 'gh.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as string[]).join(' '))
  } catch {
    return []
  }
}

function deploy(extra: Record<string, string> = {}, args: string[] = ['--yes', '--json']) {
  return runCli(['deploy', '--env', 'local', ...args], {
    ...p.env,
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_GH_SCENARIO: join(p.root, 'scenario.json'),
    FAKE_GH_LOG: join(p.root, 'gh.log'),
    GITHUB_RUN_ID: '',
    GITHUB_REPOSITORY: '',
    ...extra,
  })
}

interface Report {
  result: string
  steps: { id: string; outcome: string; detail?: string }[]
  warnings: string[]
  error?: { message: string; next?: string }
}

beforeEach(() => {
  p = tempProject({
    copyRunbooks: false,
    runbooks: {
      'go-live': {
        name: 'go-live',
        title: 'cicd.verify test runbook',
        description: 'the CD run of the release tag',
        phases: [{ id: 'registry', number: 4, title: 'CI/CD', steps: [{ uses: 'cicd.verify', with: { repo: REPO_NAME, pollSeconds: 1, waitMinutes: 1 } }] }],
      },
    },
  })
  bin = join(p.root, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'gh'), FAKE_GH)
  chmodSync(join(bin, 'gh'), 0o755)
})
afterEach(() => p.cleanup())

describe('cicd.verify', () => {
  it('a successful CD run for the tag: done, reported with its link, read-only gh calls only', async () => {
    scenario({ loggedIn: true, runs: [[ghRun(101, 'completed', 'success')]] })
    const r = await deploy()
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as Report
    expect(report.steps).toEqual([expect.objectContaining({ id: 'cicd.verify', outcome: 'unchanged', detail: `CD run #101 for v1.0.0 success: ${URL(101)}` })])
    expect(ghCalls()).toEqual([
      'auth status',
      `run list --repo ${REPO_NAME} --workflow cd.yml --branch v1.0.0 --limit 1 --json databaseId,status,conclusion,url,headBranch,event,createdAt`,
    ])
  })

  it('a failed CD run: the step fails with the failed job, the link and how to read the log', async () => {
    scenario({
      loggedIn: true,
      runs: [[ghRun(102, 'completed', 'failure')]],
      jobs: [job('Image deal-service', 'completed', 'success'), job('Deploy staging', 'completed', 'success'), job('Deploy prod', 'completed', 'failure')],
    })
    const r = await deploy()
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as Report
    expect(report.error?.message).toBe(`CD run #102 for v1.0.0 failure at job "Deploy prod": ${URL(102)}`)
    expect(report.error?.next).toContain(`gh run view 102 --repo ${REPO_NAME} --log-failed`)
    expect(ghCalls()).toContain(`run view 102 --repo ${REPO_NAME} --json jobs`)
  })

  it('a run still going: waits (polling, with progress) until it finishes', async () => {
    scenario({
      loggedIn: true,
      runs: [[ghRun(103, 'in_progress')], [ghRun(103, 'in_progress')], [ghRun(103, 'completed', 'success')]],
      jobs: [job('Plan', 'completed', 'success'), job('Deploy staging', 'in_progress')],
    })
    const r = await deploy({}, ['--yes'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/CD run #103 for v1\.0\.0 is in_progress: 1\/2 jobs done; Deploy staging \(in_progress\)/)
    expect(ghCalls().filter((c) => c.startsWith('run list'))).toHaveLength(3) // check (in progress), run: in progress, then success
  })

  it('a run waiting for the prod reviewers: reported as a warning, not waited on', async () => {
    scenario({ loggedIn: true, runs: [[ghRun(104, 'waiting')]] })
    const r = await deploy()
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as Report).warnings).toEqual([`CD run #104 for v1.0.0 is waiting for a reviewer to approve its deployment: ${URL(104)}`])
  })

  it('inside the CD run itself (GITHUB_RUN_ID): done, no waiting on itself', async () => {
    scenario({ loggedIn: true, runs: [[ghRun(105, 'in_progress')]] })
    const r = await deploy({ GITHUB_RUN_ID: '105' })
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as Report).steps[0]).toMatchObject({ outcome: 'unchanged', detail: 'running inside CD run #105 for v1.0.0 itself' })
  })

  it('skipped with a warning: no run for the tag, gh not logged in, gh not installed', async () => {
    scenario({ loggedIn: true, runs: [[]] })
    const none = JSON.parse((await deploy()).stdout) as Report
    expect(none.steps[0]).toMatchObject({ outcome: 'skipped' })
    expect(none.warnings).toEqual([`cicd.verify skipped: no cd.yml run for v1.0.0 in ${REPO_NAME} yet; push the tag (\`git push origin v1.0.0\`) to start it`])

    scenario({ loggedIn: false, runs: [[]] })
    const loggedOut = await deploy()
    expect(loggedOut.code).toBe(0)
    expect((JSON.parse(loggedOut.stdout) as Report).warnings).toEqual([
      'cicd.verify skipped: gh is not logged in (`gh auth login`, or GH_TOKEN in CI): You are not logged into any GitHub hosts. To log in, run: gh auth login',
    ])

    const absent = await deploy({ PATH: join(p.root, 'empty') })
    expect(absent.code, absent.stderr).toBe(0)
    expect((JSON.parse(absent.stdout) as Report).warnings).toEqual([
      'cicd.verify skipped: the GitHub CLI (gh) is not installed; check the CD run in the GitHub Actions tab',
    ])
  })

  it('the sandbox never asks GitHub', async () => {
    scenario({ loggedIn: true, runs: [[ghRun(107, 'completed', 'failure')]] })
    const config = readFileSync(join(p.root, 'autolytiq.yaml'), 'utf8').replace('  local:\n', '  local:\n    sandbox: true\n')
    writeFileSync(join(p.root, 'autolytiq.yaml'), config)
    mkdirSync(join(p.home, 'sandbox'), { recursive: true })
    writeFileSync(join(p.home, 'sandbox', 'runtime.json'), '{}')
    const r = await deploy()
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as Report).steps[0]).toMatchObject({
      outcome: 'skipped',
      detail: 'the sandbox has no CD workflow runs (this step checks staging and prod)',
    })
    expect(ghCalls()).toEqual([])
  })

  it('--dry-run lists the exact gh commands', async () => {
    scenario({ loggedIn: true, runs: [[ghRun(106, 'completed', 'success')]] })
    const r = await deploy({}, ['--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('gh auth status')
    expect(r.stdout).toContain(`gh run list --repo ${REPO_NAME} --workflow cd.yml --branch v1.0.0 --limit 1 --json`)
    expect(r.stdout).toContain('already done: no change')
  })
})
