import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../helpers/cli.js'
import { tempProject, type TempProject } from '../helpers/project.js'
import { startSwitchServer, type SwitchServer } from '../helpers/switch-server.js'

const CANARY = 'canary-Zq81xTYpL0-secret'

/** A small runbook: one local mutating step and one wait on a server the test controls. */
function runbook(url: string, timeoutSeconds = 30) {
  return {
    name: 'go-live',
    title: 'engine test runbook',
    description: 'tfvars then wait for an endpoint',
    phases: [
      { id: 'prep', number: 1, title: 'Prepare', steps: [{ uses: 'terraform.tfvars' }] },
      {
        id: 'wait',
        number: 2,
        title: 'Wait',
        steps: [
          {
            uses: 'http.wait-healthy',
            with: { url: `${url.replace('http://', `http://ops:${CANARY}@`)}/health`, timeoutSeconds, intervalMs: 200, tokenEnv: 'AUTOLYTIQ_API_TOKEN' },
          },
        ],
      },
    ],
  }
}

function readState(
  p: TempProject,
): Record<string, unknown> & { steps: Record<string, Record<string, { status: string; attempts: number; changed?: boolean }>> } {
  return JSON.parse(readFileSync(join(p.home, 'state', 'local.json'), 'utf8'))
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('deploy engine through the real CLI', () => {
  let server: SwitchServer
  let p: TempProject
  const env = (): Record<string, string> => ({ ...p.env, AUTOLYTIQ_API_TOKEN: CANARY })

  beforeEach(async () => {
    server = await startSwitchServer(200)
    p = tempProject({ copyRunbooks: false, runbooks: { 'go-live': runbook(server.url) } })
  })
  afterEach(async () => {
    await server.close()
    p.cleanup()
  })

  it('runs, then a second run changes nothing and says so', async () => {
    const first = await runCli(['deploy', '--env', 'local', '--yes', '--json'], env())
    expect(first.code, first.stderr).toBe(0)
    const r1 = JSON.parse(first.stdout)
    expect(r1.result).toBe('succeeded')
    expect(r1.steps.map((s: { id: string; outcome: string }) => [s.id, s.outcome])).toEqual([
      ['terraform.tfvars', 'changed'],
      ['http.wait-healthy', 'unchanged'],
    ])
    const second = await runCli(['deploy', '--env', 'local', '--yes'], env())
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/Nothing to do: all 2 step\(s\) of go-live were already done on local; nothing was changed/)
    // the bearer token reached the server: the secret was really used, yet never shown
    expect(server.requests.some((r) => r.headers.authorization === `Bearer ${CANARY}`)).toBe(true)
  })

  it('resumes after a failed step: done steps are re-checked, the failed one runs', async () => {
    server.status = 500
    writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), JSON.stringify(runbook(server.url, 1)))
    const failed = await runCli(['deploy', '--env', 'local', '--yes'], env())
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/FAILED at http.wait-healthy: .*did not answer HTTP 200 within 1 s \(last: HTTP 500/)
    expect(failed.stdout).toMatch(/Safe to re-run/)
    expect(failed.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
    let st = readState(p)
    expect(st.steps['go-live']!['terraform.tfvars']!.status).toBe('done')
    expect(st.steps['go-live']!['http.wait-healthy']!.status).toBe('failed')

    const status = await runCli(['status', '--env', 'local', '--json'], env())
    expect(JSON.parse(status.stdout).next).toBe('http.wait-healthy')

    server.status = 200
    const resumed = await runCli(['deploy', '--env', 'local', '--yes', '--json'], env())
    expect(resumed.code, resumed.stderr).toBe(0)
    const outcomes = Object.fromEntries(JSON.parse(resumed.stdout).steps.map((s: { id: string; outcome: string }) => [s.id, s.outcome]))
    expect(outcomes).toEqual({ 'terraform.tfvars': 'unchanged', 'http.wait-healthy': 'unchanged' })
    st = readState(p)
    expect(st.steps['go-live']!['http.wait-healthy']).toMatchObject({ status: 'done', attempts: 2 })
  })

  it('survives SIGKILL mid-step: the lock is stale, unlock takes it over, resume completes with a valid state file', async () => {
    server.status = 503
    const child = spawn(process.execPath, [BIN, 'deploy', '--env', 'local', '--yes'], { env: { ...process.env, CI: 'true', ...env() }, stdio: 'ignore' })
    const statePath = join(p.home, 'state', 'local.json')
    await waitFor(
      () =>
        existsSync(statePath) &&
        readFileSync(statePath, 'utf8').includes('"http.wait-healthy"') &&
        readState(p).steps['go-live']!['http.wait-healthy']!.status === 'running',
      20_000,
      'the wait step to be running',
    )
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))

    const st = readState(p) // valid JSON after a kill at an arbitrary instant
    expect(st.steps['go-live']!['http.wait-healthy']!.status).toBe('running')

    const blocked = await runCli(['deploy', '--env', 'local', '--yes'], env())
    expect(blocked.code).toBe(3)
    expect(blocked.stderr).toMatch(/locked by .*pid \d+/)
    expect(blocked.stderr).toMatch(/looks dead \(process \d+ no longer runs/)
    expect(blocked.stderr).toMatch(/autolytiq state unlock --env local/)

    const unlock = await runCli(['state', 'unlock', '--env', 'local'], env())
    expect(unlock.code, unlock.stderr).toBe(0)
    expect(unlock.stdout).toMatch(/Removed the lock held by/)

    server.status = 200
    const resumed = await runCli(['deploy', '--env', 'local', '--yes', '--json'], env())
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).result).toBe('succeeded')
    const after = readState(p)
    expect(after.steps['go-live']!['http.wait-healthy']!.status).toBe('done')
    expect(after.schemaVersion).toBe(1)
    expect(statSync(statePath).mode & 0o777).toBe(0o600)
  })

  it('refuses a second concurrent run with exit 3 naming the holder', async () => {
    server.status = 503
    const child = spawn(process.execPath, [BIN, 'deploy', '--env', 'local', '--yes'], { env: { ...process.env, CI: 'true', ...env() }, stdio: 'ignore' })
    try {
      await waitFor(() => existsSync(join(p.home, 'state', 'local.lock')), 20_000, 'the lock')
      const second = await runCli(['deploy', '--env', 'local', '--yes'], env())
      expect(second.code).toBe(3)
      expect(second.stderr).toMatch(new RegExp(`locked by \\S+@\\S+ \\(pid ${child.pid}, \`autolytiq deploy\``))
      expect(second.stderr).toMatch(/still alive/)
      const unlock = await runCli(['state', 'unlock', '--env', 'local'], env())
      expect(unlock.code).toBe(2)
      expect(unlock.stderr).toMatch(/held by a live run/)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('keeps a corrupt state file untouched and exits 2', async () => {
    const dir = join(p.home, 'state')
    await runCli(['deploy', '--env', 'local', '--yes', '--only', 'terraform.tfvars'], env())
    const path = join(dir, 'local.json')
    const corrupt = '{"schemaVersion": 1, "environment": "local", "steps": {'
    writeFileSync(path, corrupt)
    for (const args of [
      ['deploy', '--env', 'local', '--yes'],
      ['status', '--env', 'local'],
    ]) {
      const r = await runCli(args, env())
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/state file .*local\.json is not valid JSON; it was left untouched and nothing was run/)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(readFileSync(path, 'utf8')).toBe(corrupt)
    }
    writeFileSync(path, JSON.stringify({ schemaVersion: 99, environment: 'local' }))
    const future = await runCli(['status', '--env', 'local'], env())
    expect(future.code).toBe(2)
    expect(future.stderr).toMatch(/schema version 99; this autolytiq reads version 1/)
  })

  it('--dry-run prints the plan and writes no file', async () => {
    const r = await runCli(['deploy', '--env', 'local', '--dry-run'], env())
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Dry run of go-live on local .*nothing was changed/)
    expect(r.stdout).toMatch(/write .*terraform\.tfvars\.json/)
    expect(r.stdout).toMatch(/GET http:\/\/ops:\*\*\*@127\.0\.0\.1:\d+\/health every 200 ms/)
    expect(existsSync(p.home)).toBe(false)
  })

  it('refuses a mutating run without a terminal and without --yes, changing nothing', async () => {
    const r = await runCli(['deploy', '--env', 'local'], env())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/cannot ask for confirmation \(no terminal, or CI=true\); nothing was changed/)
    expect(r.stderr).toMatch(/--yes/)
    expect(existsSync(join(p.home, 'work'))).toBe(false)
  })

  it('never leaks a secret into output, state or audit', async () => {
    server.status = 500
    writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), JSON.stringify(runbook(server.url, 1)))
    const outputs = [await runCli(['deploy', '--env', 'local', '--yes'], env()), await runCli(['deploy', '--env', 'local', '--yes', '--json'], env())]
    server.status = 200
    outputs.push(await runCli(['deploy', '--env', 'local', '--yes', '--json'], env()))
    outputs.push(
      await runCli(['status', '--env', 'local', '--json'], env()),
      await runCli(['log', '--env', 'local', '--json'], env()),
      await runCli(['state', 'show', '--env', 'local'], env()),
    )
    outputs.push(await runCli(['deploy', '--env', 'local', '--dry-run', '--json'], env()))
    expect(server.requests.some((r) => r.headers.authorization === `Bearer ${CANARY}`)).toBe(true)
    for (const o of outputs) {
      expect(o.stdout + o.stderr).not.toContain(CANARY)
    }
    for (const f of readdirSync(join(p.home, 'state'))) expect(readFileSync(join(p.home, 'state', f), 'utf8')).not.toContain(CANARY)
    const audit = readFileSync(join(p.home, 'state', 'local.audit.jsonl'), 'utf8')
    expect(audit).toContain('"step":"terraform.tfvars"')
  })

  it('rejects unknown environments, steps and phases with the valid names and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['deploy', '--env', 'nope', '--dry-run'], /unknown environment "nope"[\s\S]*use one of: local/],
      [['deploy', '--env', 'local', '--only', 'no.such', '--dry-run'], /unknown step "no.such" for --only[\s\S]*terraform.tfvars, http.wait-healthy/],
      [['deploy', '--env', 'local', '--phase', '9', '--dry-run'], /unknown phase "9"[\s\S]*1 \(prep\), 2 \(wait\)/],
      [['deploy', '--dry-run'], /no environment given[\s\S]*pass --env/],
      [['deploy', '--env', 'local', '--bogus'], /Nonexistent flag: --bogus/],
    ]
    for (const [args, re] of cases) {
      const r = await runCli(args, p.env)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(re)
    }
  })

  it('stops before doing anything when a selected step is not implemented', async () => {
    writeFileSync(
      join(p.root, 'runbooks', 'go-live.yaml'),
      JSON.stringify({
        name: 'go-live',
        title: 't',
        description: 'd',
        phases: [{ id: 'a', number: 1, title: 'A', steps: [{ uses: 'terraform.tfvars' }, { uses: 'future.step' }] }],
      }),
    )
    const r = await runCli(['deploy', '--env', 'local', '--yes'], env())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/not implemented: future.step/)
    expect(existsSync(join(p.home, 'work'))).toBe(false)
    const show = await runCli(['runbook', 'show'], env())
    expect(show.stdout).toMatch(/future.step\s+NOT IMPLEMENTED/)
  })
})
