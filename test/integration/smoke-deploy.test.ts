/**
 * Phase 8's smoke and load steps run by `autolytiq deploy` (the runner, state, audit), through
 * the built CLI against the real smoke-contract server: a first run changes, a re-run is done
 * without sending a single request that creates data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { tempProject, type TempProject } from '../helpers/project.js'
import { baseEnvironment } from '../fixtures/verify-context.js'
import { startSmokeServer, type SmokeServer } from '../fixtures/smoke-server.js'

let api: SmokeServer
let project: TempProject

const PHASE8 = {
  name: 'go-live',
  title: 'Phase 8 only',
  description: 'Smoke tests and a short load baseline.',
  phases: [
    {
      id: 'verification',
      number: 8,
      title: 'Verification and go-live',
      steps: [{ uses: 'smoke.tests' }, { uses: 'load.baseline', with: { durationSeconds: 2, connections: 4 } }],
    },
  ],
}

beforeAll(async () => {
  api = await startSmokeServer()
  project = tempProject({ environments: { test: baseEnvironment({ apiUrl: api.url }) }, runbooks: { 'go-live': PHASE8 }, copyRunbooks: false })
})

afterAll(async () => {
  await api?.stop()
  project?.cleanup()
})

const deploy = (...args: string[]) => runCli(['deploy', '--env', 'test', ...args], project.env, { cwd: project.root })

describe('deploy: smoke.tests and load.baseline', () => {
  it('plans the exact requests with --dry-run and sends none', async () => {
    const r = await deploy('--dry-run')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`POST ${api.url}/api/v1/users/register → expect 201 and id, email`)
    expect(r.stdout).toContain(`  cleanup: DELETE ${api.url}/api/v1/deals/\${dealId}`)
    // the load spreads over /health and every catalog service's health path (per-service baselines)
    expect(r.stdout).toMatch(new RegExp(`autocannon GET ${api.url}/health and \\d+ service health paths with 4 connections for 2 s`))
    expect(api.requests).toEqual([])
  })

  it('runs both, then a re-run is already done and creates nothing', async () => {
    const first = await deploy('--yes', '--json')
    expect(first.stderr).toBe('')
    const report = JSON.parse(first.stdout) as { result: string; changed: number; steps: { id: string; outcome: string }[] }
    // smoke.tests writes (test data, cleaned up); load.baseline only reads: checked, not a change
    expect(report).toMatchObject({ result: 'succeeded', changed: 1, checked: 1 })
    expect(report.steps.map((s) => [s.id, s.outcome])).toEqual([
      ['smoke.tests', 'changed'],
      ['load.baseline', 'checked'],
    ])
    expect(api.requests.filter((x) => x.startsWith('POST /api/v1/users/register'))).toHaveLength(1)
    expect([...api.users.values()]).toEqual([])

    const state = JSON.parse(readFileSync(join(project.home, 'state', 'test.json'), 'utf8')) as {
      outputs: Record<string, { result?: string; pendingCleanup?: unknown[] }>
      baseline: { baseline: { requests: number; p95: number; errorRate: number } }
    }
    expect(state.outputs['smoke.tests']).toMatchObject({ result: 'pass', pendingCleanup: [] })
    expect(state.baseline.baseline.requests).toBeGreaterThan(0)
    expect(state.baseline.baseline.errorRate).toBe(0)
    const audit = readFileSync(join(project.home, 'state', 'test.audit.jsonl'), 'utf8')
    expect(audit).toContain('"step":"smoke.tests"')

    const before = api.requests.length
    const again = await deploy('--yes', '--json')
    expect(JSON.parse(again.stdout)).toMatchObject({ result: 'succeeded', changed: 0, unchanged: 2 })
    expect(api.requests.length).toBe(before)
  })

  it('a failing smoke flow fails the deploy with the reason and exit 1', async () => {
    api.faults.set('GET /api/v1/deals', { status: 200, body: { items: [] } })
    try {
      const r = await deploy('--yes', '--only', 'smoke.tests')
      // Already passed for this release: done, unless forced through state. Reset it the supported way.
      expect(r.code).toBe(0)
      const reset = await runCli(['state', 'reset', '--env', 'test', '--yes'], project.env, { cwd: project.root })
      expect(reset.code).toBe(0)
      const failed = await deploy('--yes', '--only', 'smoke.tests')
      expect(failed.code).toBe(1)
      expect(failed.stderr + failed.stdout).toContain('deal-listing failed: items: expected a non-empty array, got []')
      expect([...api.users.values()]).toEqual([])
    } finally {
      api.faults.clear()
    }
  })
})
