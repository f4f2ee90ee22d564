import { createServer } from 'node:net'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'
import { startSwitchServer, type SwitchServer } from '../helpers/switch-server.js'
import { startWebhookSink, type WebhookSink } from '../harness/webhook-sink.js'
import { buildContext } from '../../src/engine/context.js'
import { notifyRunFinished } from '../../src/notify/index.js'
import { escapeMrkdwn, slackMessage } from '../../src/notify/slack.js'

/**
 * Run notifications against a real local HTTP server that records every POST (the webhook
 * sink), through the real CLI. The webhook URL carries a token, as Slack's do: it must never
 * show up in any output, state or audit file.
 */

const TOKEN = 'xoxwebhookTOKEN-7f3a9c2e51'
const CANARY = 'canary-Zq81xTYpL0-secret'
const CI_ENV = {
  GITHUB_ACTIONS: 'true',
  GITHUB_ACTOR: 'octo-dev',
  GITHUB_SERVER_URL: 'https://github.example',
  GITHUB_REPOSITORY: 'acme/autolytiq',
  GITHUB_RUN_ID: '4242',
}
const NOT_IN_CI = { GITHUB_ACTIONS: '', GITHUB_ACTOR: '', GITHUB_SERVER_URL: '', GITHUB_REPOSITORY: '', GITHUB_RUN_ID: '' }

/** tfvars (a local mutating step), then a wait on a server the test switches between healthy and failing. */
function runbook(healthUrl?: string) {
  const steps = [{ id: 'prep', number: 1, title: 'Prepare', steps: [{ uses: 'terraform.tfvars' }] }]
  if (healthUrl)
    steps.push({
      id: 'wait',
      number: 2,
      title: 'Wait',
      steps: [{ uses: 'http.wait-healthy', with: { url: healthUrl, timeoutSeconds: 1, intervalMs: 200 } } as never],
    })
  return { name: 'go-live', title: 'notify test runbook', description: 'tfvars, then wait for an endpoint', phases: steps }
}

type Payload = { text: string; unfurl_links: boolean }

let sink: WebhookSink
let health: SwitchServer
let p: TempProject

function project(healthUrl?: string, slackWebhook: Record<string, string> | null = { env: 'SLACK_WEBHOOK_URL' }): TempProject {
  const env = localEnvironment(slackWebhook ? { slackWebhook } : {})
  return tempProject({ copyRunbooks: false, environments: { local: env }, runbooks: { 'go-live': runbook(healthUrl) } })
}

const hookUrl = (): string => `${sink.url}services/T0001/B0001/${TOKEN}`
const failingHealthUrl = (): string => `${health.url.replace('http://', `http://ops:${CANARY}@`)}/health`

function expectNoSecrets(texts: string[]): void {
  for (const t of texts) {
    expect(t).not.toContain(TOKEN)
    expect(t).not.toContain(CANARY)
  }
  for (const f of readdirSync(join(p.home, 'state'))) expect(readFileSync(join(p.home, 'state', f), 'utf8')).not.toContain(TOKEN)
}

/** A loopback port nobody listens on: the webhook is down. */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

beforeEach(async () => {
  sink = await startWebhookSink()
  health = await startSwitchServer(500)
})

afterEach(async () => {
  await sink.stop()
  await health.close()
  p?.cleanup()
})

describe('deploy posts a short run summary to Slack', () => {
  it('success: who, environment, release, result, duration, what changed and the CI run link', async () => {
    p = project()
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, ...CI_ENV, SLACK_WEBHOOK_URL: hookUrl() })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.warnings).toEqual([])
    expect(sink.received()).toHaveLength(1)
    const { text, unfurl_links } = sink.received()[0] as Payload
    const lines = text.split('\n')
    expect(lines[0]).toBe(':white_check_mark: autolytiq deploy *succeeded* on *local* — release v1.0.0')
    expect(lines[1]).toMatch(new RegExp(`^By octo-dev \\(GitHub Actions\\) · took \\d+(\\.\\d)?m?s · run ${report.runId}$`))
    expect(lines[2]).toBe('1 step(s) changed, 0 already done')
    expect(lines[3]).toBe('<https://github.example/acme/autolytiq/actions/runs/4242|CI run>')
    expect(lines).toHaveLength(4)
    expect(unfurl_links).toBe(false)
    expectNoSecrets([r.stdout, r.stderr])
  })

  it('a re-run that changes nothing says so; outside CI "who" is user@host', async () => {
    p = project()
    const env = { ...p.env, ...NOT_IN_CI, SLACK_WEBHOOK_URL: hookUrl() }
    expect((await runCli(['deploy', '--env', 'local', '--yes'], env)).code).toBe(0)
    const again = await runCli(['deploy', '--env', 'local', '--yes'], env)
    expect(again.code, again.stderr).toBe(0)
    const second = (sink.received()[1] as Payload).text.split('\n')
    expect(second[1]).toMatch(/^By \S+@\S+ · took /)
    expect(second[2]).toBe('nothing to do: all 1 step(s) already done')
    expect(second.some((l) => l.includes('CI run'))).toBe(false)
  })

  it('failure: the failed step and its reason (secrets redacted), exit code 1', async () => {
    p = project(failingHealthUrl())
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, ...NOT_IN_CI, SLACK_WEBHOOK_URL: hookUrl() })
    expect(r.code).toBe(1)
    const { text } = (await sink.waitFor(() => true)) as Payload
    const lines = text.split('\n')
    expect(lines[0]).toBe(':x: autolytiq deploy *failed* on *local* — release v1.0.0')
    expect(lines[2]).toMatch(/^Failed step: `http\.wait-healthy` — .*did not answer HTTP 200 within 1 s \(last: HTTP 500/)
    expect(text).toContain('ops:***@127.0.0.1') // the reason quotes the URL, without its password
    expectNoSecrets([r.stdout, r.stderr, text])
  })

  it('failure with --auto-rollback: the message says what the automatic rollback did', async () => {
    p = project(failingHealthUrl())
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--auto-rollback', '--json'], { ...p.env, ...NOT_IN_CI, SLACK_WEBHOOK_URL: hookUrl() })
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report.rollback).toBeTruthy()
    const { text } = sink.received()[0] as Payload
    expect(text.split('\n')).toContain(`Automatic rollback: ${escapeMrkdwn(report.rollback)}`)
    expect(text).toMatch(/Failed step: `http\.wait-healthy`/)
  })

  it('a dry run and an environment without a webhook post nothing', async () => {
    p = project()
    const dry = await runCli(['deploy', '--env', 'local', '--dry-run'], { ...p.env, SLACK_WEBHOOK_URL: hookUrl() })
    expect(dry.code, dry.stderr).toBe(0)
    p.cleanup()
    p = project(undefined, null)
    const quiet = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, SLACK_WEBHOOK_URL: hookUrl() })
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(JSON.parse(quiet.stdout).warnings).toEqual([])
    expect(sink.received()).toEqual([])
  })
})

describe('a failing webhook never fails the run', () => {
  it('webhook down: a warning, exit code 0 unchanged, the URL never shown', async () => {
    p = project()
    const down = `http://127.0.0.1:${await closedPort()}/services/T0001/B0001/${TOKEN}`
    const json = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, SLACK_WEBHOOK_URL: down })
    expect(json.code, json.stderr).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(report.result).toBe('succeeded')
    expect(report.warnings).toEqual([expect.stringMatching(/^Slack notification not sent: .*ECONNREFUSED.*; the deploy result is unaffected$/)])
    const text = await runCli(['deploy', '--env', 'local', '--yes'], { ...p.env, SLACK_WEBHOOK_URL: down })
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/Warning: Slack notification not sent: .*ECONNREFUSED/)
    expectNoSecrets([json.stdout, json.stderr, text.stdout, text.stderr])
  })

  it('webhook down on a failed run: exit code stays 1', async () => {
    p = project(failingHealthUrl())
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], {
      ...p.env,
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${await closedPort()}/x/${TOKEN}`,
    })
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).warnings).toContainEqual(expect.stringMatching(/^Slack notification not sent: .*ECONNREFUSED/))
  })

  it('webhook answering HTTP 500: a warning with the status', async () => {
    p = project()
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, SLACK_WEBHOOK_URL: `${health.url}/services/${TOKEN}` })
    expect(r.code, r.stderr).toBe(0)
    expect(health.requests.map((q) => q.path)).toEqual([`/services/${TOKEN}`])
    expect(JSON.parse(r.stdout).warnings).toEqual([expect.stringMatching(/^Slack notification not sent: the webhook answered HTTP 500/)])
    expectNoSecrets([r.stdout, r.stderr])
  })

  it('configured but the variable is not set: a warning naming the variable', async () => {
    p = project()
    const r = await runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...p.env, SLACK_WEBHOOK_URL: '' })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).warnings).toEqual([
      'Slack notification not sent: $SLACK_WEBHOOK_URL is not set (slackWebhook.env of environment local); the deploy result is unaffected',
    ])
  })
})

describe('checklist posts its outcome', () => {
  it('incomplete checklist: counts, the first failed item and the exported report; exit code 1 as without Slack', async () => {
    p = tempProject({ environments: { local: localEnvironment({ slackWebhook: { env: 'SLACK_WEBHOOK_URL' } }) } })
    const exported = join(p.root, 'go-live-checklist.md')
    const r = await runCli(['checklist', '--env', 'local', '--export', exported, '--json'], { ...p.env, ...NOT_IN_CI, SLACK_WEBHOOK_URL: hookUrl() })
    expect(r.code, r.stderr).toBe(1)
    const result = JSON.parse(r.stdout)
    expect(result.warnings).toEqual([])
    const firstFailed = result.items.find((i: { status: string }) => i.status === 'failed')
    const lines = (sink.received()[0] as Payload).text.split('\n')
    expect(lines[0]).toBe(':x: autolytiq checklist *failed* on *local* — release v1.0.0')
    expect(lines[2]).toBe(`${result.counts.done}/${result.counts.total} items done, ${result.counts.failed} failed, ${result.counts.open} open`)
    expect(lines[3]).toMatch(new RegExp(`^Failed step: \`${firstFailed.id}\` — failed: `))
    expect(lines[4]).toBe(`Report: \`${exported}\``)
  })
})

describe('rollback notifications (notifyRunFinished, as the rollback command calls it)', () => {
  const saved = { ...process.env }
  afterEach(() => {
    process.env = { ...saved }
  })

  async function context(): Promise<Awaited<ReturnType<typeof buildContext>>['ctx']> {
    p = project()
    Object.assign(process.env, p.env, NOT_IN_CI, { SLACK_WEBHOOK_URL: hookUrl() })
    return (await buildContext({ env: 'local' })).ctx
  }

  it('a successful rollback: what was rolled back, and the report link', async () => {
    const ctx = await context()
    const sent = await notifyRunFinished(ctx, {
      command: 'rollback',
      environment: 'local',
      release: 'v1.0.0',
      result: 'succeeded',
      durationMs: 95_000,
      outcome: 'deal-service rolled back to revision 3 (image v0.9.8); 3/3 pods ready',
      report: 'https://reports.example/rollback-1234.md',
    })
    expect(sent).toEqual({ status: 'sent' })
    const lines = (sink.received()[0] as Payload).text.split('\n')
    expect(lines[0]).toBe(':white_check_mark: autolytiq rollback *succeeded* on *local* — release v1.0.0')
    expect(lines[1]).toMatch(/^By \S+@\S+ · took 1m35s$/)
    expect(lines[2]).toBe('deal-service rolled back to revision 3 (image v0.9.8); 3/3 pods ready')
    expect(lines[3]).toBe('<https://reports.example/rollback-1234.md|Report>')
  })

  it('a failed rollback: the step and reason, escaped for Slack, a local report path as text', async () => {
    const ctx = await context()
    await notifyRunFinished(ctx, {
      command: 'rollback',
      environment: 'local',
      release: 'v1.0.0',
      result: 'failed',
      durationMs: 4_200,
      failedStep: 'rollback.deployments',
      reason: `deal-service: rollout <revision 2> did not become ready & pods crash; password=${CANARY}\nsecond line\nthird\nfourth is dropped`,
      report: '/tmp/rollback report.md',
    })
    const { text } = sink.received()[0] as Payload
    const lines = text.split('\n')
    expect(lines[0]).toBe(':x: autolytiq rollback *failed* on *local* — release v1.0.0')
    expect(lines[2]).toBe(
      'Failed step: `rollback.deployments` — deal-service: rollout &lt;revision 2&gt; did not become ready &amp; pods crash; password=*** second line third',
    )
    expect(lines[3]).toBe('Report: `/tmp/rollback report.md`')
    expect(text).not.toContain(CANARY)
  })
})

describe('slackMessage', () => {
  it('marks an interruption and truncates a long reason', () => {
    const m = slackMessage(
      {
        command: 'deploy',
        environment: 'prod',
        release: 'v2.0.0',
        result: 'interrupted',
        durationMs: 800,
        failedStep: 'k8s.rollout',
        reason: 'x'.repeat(1000),
      },
      'alice@laptop',
    )
    const lines = m.text.split('\n')
    expect(lines[0]).toBe(':warning: autolytiq deploy *interrupted* on *prod* — release v2.0.0')
    expect(lines[1]).toBe('By alice@laptop · took 800ms')
    expect(lines[2]).toMatch(/^Interrupted at `k8s\.rollout` — x+…$/)
    expect(lines[2]!.length).toBeLessThan(450)
  })
})
