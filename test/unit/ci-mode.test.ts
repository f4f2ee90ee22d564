import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../helpers/cli.js'
import { tempProject, type TempProject } from '../helpers/project.js'

/**
 * CI mode through the real CLI. Without a terminal every run is non-interactive anyway, so these
 * tests give the CLI a real pseudo-terminal (util-linux `script`): only CI=true can then be what
 * keeps prompts away and the renderer plain. The same runs without CI=true are the control.
 */

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/ // eslint-disable-line no-control-regex
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/

const RUNBOOK = {
  name: 'go-live',
  title: 'ci mode test runbook',
  description: 'one local mutating step',
  phases: [{ id: 'prep', number: 1, title: 'Prepare', steps: [{ uses: 'terraform.tfvars' }] }],
}

let p: TempProject

beforeEach(() => {
  p = tempProject({ copyRunbooks: false, runbooks: { 'go-live': RUNBOOK } })
})
afterEach(() => p.cleanup())

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Runs the CLI on a pseudo-terminal; `ci` sets CI (undefined: not in CI). When `answer` is given,
 * types it once `prompt` appears — proof that a prompt was really shown and is waiting.
 */
function inTerminal(args: string[], ci: string | undefined, answer?: { prompt: RegExp; keys: string }): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string | undefined> = { ...process.env, ...p.env, TERM: 'xterm-256color', CI: ci }
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'GITHUB_ACTIONS']) delete env[k]
  if (ci === undefined) delete env.CI
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  let answered = false
  child.stdout.on('data', (b: Buffer) => {
    output += b.toString()
    if (answer && !answered && answer.prompt.test(output)) {
      answered = true
      child.stdin.write(answer.keys)
    }
  })
  child.stderr.on('data', (b: Buffer) => (output += b.toString()))
  return new Promise((resolve) => child.on('close', (code) => (child.stdin.end(), resolve({ code, output }))))
}

describe('CI=true', () => {
  it('a mutating run without --yes exits 2 with the reason, even on a terminal; no prompt, nothing changed', async () => {
    const r = await inTerminal(['deploy', '--env', 'local'], 'true')
    expect(r.code, r.output).toBe(2)
    expect(r.output).toMatch(
      /1 step\(s\) of go-live on local may change infrastructure, and this run cannot ask for confirmation \(no terminal, or CI=true\); nothing was changed/,
    )
    expect(r.output).toMatch(/Next: review with --dry-run, then re-run with --yes/)
    expect(r.output).not.toMatch(/Continue\?/)
    expect(r.output).not.toMatch(/\n\s+at .*\.js:\d+/) // no stack trace
    expect(existsSync(join(p.home, 'work'))).toBe(false)
  })

  it('control: the same run on a terminal outside CI asks, and "no" changes nothing', async () => {
    const r = await inTerminal(['deploy', '--env', 'local'], undefined, { prompt: /Continue\?/, keys: 'n\r' })
    expect(r.output).toMatch(/may change infrastructure\. Continue\?/)
    expect(r.code, r.output).toBe(2)
    expect(r.output).toMatch(/cancelled; nothing was changed/)
    expect(existsSync(join(p.home, 'work'))).toBe(false)
  })

  it('the renderer is plain on a terminal: no escape codes, no spinner frames, one line per event', async () => {
    const r = await inTerminal(['deploy', '--env', 'local', '--yes'], 'true')
    expect(r.code, r.output).toBe(0)
    expect(r.output).not.toMatch(ANSI)
    expect(r.output).not.toMatch(SPINNER)
    expect(r.output).toMatch(/Phase 1: Prepare/)
    expect(r.output).toMatch(/terraform\.tfvars: Terraform variables for this environment/)
    expect(r.output).toMatch(/go-live on local succeeded: 1 step\(s\) changed/)
    expect(existsSync(join(p.home, 'work', 'local', 'terraform.tfvars.json'))).toBe(true)
  })

  it('in GitHub Actions (no terminal, colour otherwise forced on) progress is plain too, and on stderr', async () => {
    const r = await runCli(['deploy', '--env', 'local', '--yes'], { ...p.env, CI: 'true', GITHUB_ACTIONS: 'true', NO_COLOR: undefined, FORCE_COLOR: undefined })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/terraform\.tfvars: Terraform variables for this environment — done/)
    expect(r.stdout).not.toMatch(/Phase 1: Prepare/) // progress on stderr, results on stdout
    expect(r.stdout).toMatch(/go-live on local succeeded/)
    expect(r.stderr + r.stdout).not.toMatch(ANSI)
  })

  it('control: outside CI the same terminal gets the live renderer (escape codes)', async () => {
    const r = await inTerminal(['deploy', '--env', 'local', '--yes'], undefined)
    expect(r.code, r.output).toBe(0)
    expect(r.output).toMatch(ANSI)
  })

  it('CI=1 counts as CI, CI=false does not', async () => {
    const one = await inTerminal(['deploy', '--env', 'local'], '1')
    expect(one.code).toBe(2)
    expect(one.output).toMatch(/cannot ask for confirmation/)
    const no = await inTerminal(['deploy', '--env', 'local'], 'false', { prompt: /Continue\?/, keys: 'n\r' })
    expect(no.output).toMatch(/Continue\?/)
  })

  it('--json prints one JSON document and no progress at all', async () => {
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, CI: 'true', NO_COLOR: undefined })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: 'succeeded', changed: 1 })
  })

  it('the refusal counts only the steps that can write; the summary counts every step once', async () => {
    const mixed = {
      ...RUNBOOK,
      phases: [{ ...RUNBOOK.phases[0]!, steps: [{ uses: 'preflight.tools' }, { uses: 'terraform.tfvars' }, { uses: 'github.setup' }] }],
    }
    p.cleanup()
    p = tempProject({ copyRunbooks: false, runbooks: { 'go-live': mixed } })
    const refused = await runCli(['deploy', '--env', 'local'], { ...p.env, CI: 'true' })
    expect(refused.code).toBe(2)
    // github.setup and terraform.tfvars can write; preflight.tools only reads
    expect(refused.stderr).toContain('2 step(s) of go-live on local may change infrastructure (1 more only read), and this run cannot ask')
    const first = await runCli(['deploy', '--env', 'local', '--yes'], { ...p.env, CI: 'true', PATH: `${join(p.root, 'no-gh')}:/usr/local/bin:/usr/bin:/bin` })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/go-live on local succeeded: 1 step\(s\) changed, 1 already done, 1 skipped \(3 steps, /)
    const again = await runCli(['deploy', '--env', 'local', '--yes'], { ...p.env, CI: 'true', PATH: '/usr/local/bin:/usr/bin:/bin' })
    expect(again.stdout).toMatch(/Nothing to do: all 3 step\(s\) of go-live were already done on local \(1 skipped\); nothing was changed\./)
  })

  it('--dry-run needs no --yes in CI: it changes nothing', async () => {
    const r = await runCli(['deploy', '--env', 'local', '--dry-run'], { ...p.env, CI: 'true' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Dry run of go-live on local/)
    expect(existsSync(join(p.home, 'work'))).toBe(false)
  })
})
