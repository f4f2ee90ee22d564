/**
 * A newcomer's first hour (#18 "Done when"), in a pseudo-terminal, on a clean clone of this
 * repository at HEAD, with no environment variable set by hand: `npm run sandbox` (setup, the
 * go-live runbook, the checklist answered at its prompts, verify), then from a plain shell
 * `autolytiq deploy --env sandbox --yes` (nothing to do), `autolytiq verify --env sandbox`, a crash
 * drill, the rollback command the FAIL prints run exactly as printed, verify green,
 * `autolytiq sandbox down`, and `npm run sandbox` again from the start.
 *
 * Opt-in (AUTOLYTIQ_TEST_NEWCOMER=1): it installs the clone's npm packages and runs the whole
 * sandbox twice, ~10-15 min on 2 cores, too long for `npm test`.
 *
 * Isolation: the clone keeps its state in its own .autolytiq/; HOME is a temp folder (no
 * ~/.kube/config or ~/.aws of the machine's, `npm link` into a temp npm prefix on PATH) that
 * shares the machine's caches by symlink: ~/.cache/autolytiq (control plane, ESO, helm: nothing is
 * rebuilt), ~/.npm, and ~/.gitconfig (a newcomer has a git identity; release.tag makes an annotated tag).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { REPO } from '../helpers/cli.js'
import { runInPty, type PtyRun } from '../helpers/pty.js'

const enabled = process.env.AUTOLYTIQ_TEST_NEWCOMER === '1'
const root = enabled ? mkdtempSync(join(tmpdir(), 'autolytiq-newcomer-')) : ''
const clone = join(root, 'autolytiq')
const home = join(root, 'home')
const npmPrefix = join(root, 'npm-global')
const timings: Record<string, number> = {}
const transcript: string[] = []

/** The machine's environment as a login shell has it: nothing of autolytiq's, nothing of the test runner's. */
function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (/^(AUTOLYTIQ_|VITEST|npm_|NODE_OPTIONS$|NODE_ENV$|INIT_CWD$|CI$|KUBECONFIG$|AWS_(PROFILE|ACCESS|SECRET|SESSION|ENDPOINT|REGION|DEFAULT))/.test(k))
      continue
    env[k] = v
  }
  return { ...env, HOME: home, SHELL: '/bin/bash', TERM: 'xterm-256color', NPM_CONFIG_PREFIX: npmPrefix, PATH: `${join(npmPrefix, 'bin')}:${env.PATH}` }
}

/** A stack trace line (`    at fn (file.js:1:2)`): never shown to a person. */
const STACK = /^\s+at (?:.+ \()?(?:file:\/\/|node:|\/).+:\d+:\d+\)?$/m

/** Runs a command line in a fresh terminal (a new shell), answering prompts with `answer`. */
async function inTerminal(
  name: string,
  commandLine: string,
  o: { timeoutMs: number; answer?: (t: PtyRun) => Promise<number> },
): Promise<{ code: number; output: string; answered: number }> {
  const t0 = Date.now()
  const t = runInPty(commandLine, { cwd: clone, env: cleanEnvironment(), columns: 200, logFile: join(root, 'terminal.log') })
  const timer = setTimeout(() => t.kill(), o.timeoutMs)
  try {
    const answered = o.answer ? await o.answer(t) : 0
    const code = await t.exited
    transcript.push(`$ ${commandLine}  (exit ${code}, ${Math.round((Date.now() - t0) / 1000)} s)`, t.output())
    return { code, output: t.output(), answered }
  } finally {
    clearTimeout(timer)
    timings[name] = Math.round((Date.now() - t0) / 100) / 10
  }
}

/**
 * Answers every go-live checklist question "yes", as a person does: the select prompt shows "no"
 * first (the default), one arrow key down, Enter. Returns how many were answered once the
 * program has exited.
 */
async function answerChecklist(t: PtyRun): Promise<number> {
  let from = 0
  let answered = 0
  for (;;) {
    const next = await Promise.race([t.waitFor(/❯ no\b/, { from, timeoutMs: 3_600_000 }).catch(() => undefined), t.exited.then(() => undefined)])
    if (!next) return answered
    t.write('\x1b[B')
    const moved = await t.waitFor(/❯ yes\b/, { from: next.end, timeoutMs: 30_000 })
    t.write('\r')
    // inquirer replaces the question with "✔ <question> yes" once it is answered
    const done = await t.waitFor(/✔ \[/, { from: moved.end, timeoutMs: 30_000 })
    from = done.end
    answered++
  }
}

/** The rollback confirmation ("Continue?") answered yes. */
async function confirmOnce(t: PtyRun): Promise<number> {
  const asked = await Promise.race([t.waitFor(/Continue\?/, { timeoutMs: 600_000 }).catch(() => undefined), t.exited.then(() => undefined)])
  if (!asked) return 0
  t.write('y\r')
  return 1
}

const explain = (r: { code: number; output: string }): string => `exit ${r.code}; last output:\n${r.output.slice(-5000)}`
const manualItems = (): number => (readFileSync(join(REPO, 'runbooks', 'checklist.yaml'), 'utf8').match(/^\s+manual:/gm) ?? []).length

beforeAll(() => {
  if (!enabled) return
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO, clone])
  mkdirSync(join(home, '.cache'), { recursive: true })
  mkdirSync(npmPrefix, { recursive: true })
  const share = (rel: string): void => {
    if (existsSync(join(homedir(), rel))) symlinkSync(join(homedir(), rel), join(home, rel))
  }
  share('.cache/autolytiq')
  share('.npm')
  share('.gitconfig')
})

afterAll(async () => {
  if (!enabled) return
  // Whatever happened: nothing left running.
  if (existsSync(join(clone, 'bin', 'run.js')))
    await inTerminal('cleanup down', 'autolytiq sandbox down || ./bin/run.js sandbox down', { timeoutMs: 120_000 }).catch(() => {})
  console.log(`newcomer path timings (s): ${JSON.stringify(timings)}`)
  if (process.env.AUTOLYTIQ_TEST_KEEP) console.log(`kept ${root}`)
  else rmSync(root, { recursive: true, force: true })
})

describe.skipIf(!enabled)('a newcomer in a terminal, on a clean clone, with no variable set by hand', () => {
  test('npm run sandbox: setup, the go-live runbook, the checklist answered at its prompts, verify', async () => {
    const r = await inTerminal('npm run sandbox (first)', 'npm run sandbox', { timeoutMs: 1_500_000, answer: answerChecklist })
    expect(r.code, explain(r)).toBe(0)
    expect(r.answered, explain(r)).toBe(manualItems())
    expect(r.output).toMatch(/done: the sandbox is live/)
    expect(r.output).not.toMatch(STACK)
  }, 1_600_000)

  test('from a plain shell: `autolytiq deploy --env sandbox --yes` has nothing to do, verify passes', async () => {
    const deploy = await inTerminal('deploy (nothing to do)', 'autolytiq deploy --env sandbox --yes', { timeoutMs: 600_000 })
    expect(deploy.code, explain(deploy)).toBe(0)
    expect(deploy.output).toMatch(/nothing was changed/)
    expect(deploy.output).not.toMatch(STACK)
    const verify = await inTerminal('verify', 'autolytiq verify --env sandbox', { timeoutMs: 300_000 })
    expect(verify.code, explain(verify)).toBe(0)
    expect(verify.output).not.toMatch(STACK)
  }, 1_000_000)

  test('crash drill: a crashing build of deal-service goes red; the rollback the FAIL prints, run as printed, makes it green', async () => {
    // CI publishes a broken build of deal-service (the node simulator crash-loops `-crash` tags).
    const runtime = JSON.parse(readFileSync(join(clone, '.autolytiq', 'sandbox', 'runtime.json'), 'utf8')) as { awsEndpoint: string }
    const ecr = new ECRClient({ endpoint: runtime.awsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1, digest: `sha256:${'c'.repeat(64)}` },
      layers: [],
    }
    await ecr.send(new PutImageCommand({ repositoryName: 'autolytiq/deal-service', imageTag: 'v1.0.0-crash', imageManifest: JSON.stringify(manifest) }))
    ecr.destroy()
    const crash = await inTerminal('crash rollout', 'autolytiq rollback --env sandbox --image-tag v1.0.0-crash --service deal-service --yes', {
      timeoutMs: 300_000,
    })
    expect(crash.code, explain(crash)).toBe(1)
    expect(crash.output).toMatch(/CrashLoopBackOff/)
    expect(crash.output).not.toMatch(STACK)

    const red = await inTerminal('verify (red)', 'autolytiq verify --env sandbox', { timeoutMs: 300_000 })
    expect(red.code, explain(red)).toBe(1)
    expect(red.output).not.toMatch(STACK)
    // The FAIL ends with the command to run next: the rollback of the service that crashed.
    const next = red.output.match(/Next steps\n(?:\s+\d+\. .+\n?)+/)?.[0] ?? ''
    const rollback = next.match(/\d+\. (autolytiq rollback .+)/)?.[1]?.trim()
    expect(rollback, explain(red)).toBe('autolytiq rollback --env sandbox --service deal-service')

    // Run exactly as printed: no --yes, so it asks in the terminal, and the person says yes.
    const back = await inTerminal('rollback (as printed)', rollback!, { timeoutMs: 600_000, answer: confirmOnce })
    expect(back.answered, explain(back)).toBe(1)
    expect(back.code, explain(back)).toBe(0)
    expect(back.output).not.toMatch(STACK)
    const green = await inTerminal('verify (green)', 'autolytiq verify --env sandbox', { timeoutMs: 300_000 })
    expect(green.code, explain(green)).toBe(0)
    expect(green.output).not.toMatch(STACK)
  }, 1_600_000)

  test('`autolytiq sandbox down`, then `npm run sandbox` again from the start', async () => {
    const down = await inTerminal('sandbox down', 'autolytiq sandbox down', { timeoutMs: 300_000 })
    expect(down.code, explain(down)).toBe(0)
    expect(down.output).not.toMatch(STACK)
    const again = await inTerminal('npm run sandbox (again)', 'npm run sandbox', { timeoutMs: 1_500_000, answer: answerChecklist })
    expect(again.code, explain(again)).toBe(0)
    expect(again.output).toMatch(/done: the sandbox is live/)
    expect(again.output).not.toMatch(STACK)
  }, 1_600_000)
})
