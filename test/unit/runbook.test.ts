import { describe, expect, it } from 'vitest'
import { loadRunbook, runbookMarkdown, selectSteps } from '../../src/engine/runbook.js'
import { stepRegistry } from '../../src/steps/index.js'
import { REPO } from '../helpers/cli.js'

describe('go-live runbook', () => {
  const rb = loadRunbook(REPO, 'go-live', stepRegistry())

  it('has the eight phases of the plan in order', () => {
    expect(rb.phases.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(rb.steps[0]!.id).toBe('preflight.tools')
    expect(rb.steps.at(-1)!.id).toBe('release.tag')
  })

  it('selects by phase number, name and range, --from and --only', () => {
    const p14 = selectSteps(rb, { phases: ['1..4'] })
    expect(new Set(p14.map((s) => s.phase.number))).toEqual(new Set([1, 2, 3, 4]))
    expect(selectSteps(rb, { phases: ['kubernetes'] }).every((s) => s.phase.number === 5)).toBe(true)
    expect(selectSteps(rb, { phases: ['2'], from: 'terraform.plan' })[0]!.id).toBe('terraform.plan')
    expect(selectSteps(rb, { only: ['terraform.tfvars'] }).map((s) => s.id)).toEqual(['terraform.tfvars'])
    expect(() => selectSteps(rb, { from: 'nope' })).toThrow(/unknown step "nope" for --from/)
  })

  it('renders Markdown that lists every step with its phase', () => {
    const md = runbookMarkdown(rb)
    expect(md).toMatch(/^# Autolytiq Desk Studio go-live/)
    for (const ph of rb.phases) expect(md).toContain(`## Phase ${ph.number}: ${ph.title}`)
    for (const s of rb.steps) expect(md).toContain(`\`${s.id}\``)
    expect(md).toMatch(/\| 1\.1 \| `preflight\.tools` \| Plan 1\.2: terraform >= 1\.5/)
  })
})

describe("an environment's stepParams over the runbook's with:", () => {
  const source = 'autolytiq.yaml environments.sandbox.stepParams'
  const load = (params: Record<string, Record<string, unknown>>) => loadRunbook(REPO, 'go-live', stepRegistry(), { source, params })
  const paramsOf = (rb: ReturnType<typeof load>, id: string) => rb.steps.find((s) => s.id === id)!.params as Record<string, unknown>

  it('replaces single parameters of that step only; the rest keep the runbook’s values and the step’s defaults', () => {
    const plain = loadRunbook(REPO, 'go-live', stepRegistry())
    const rb = load({ 'load.baseline': { durationSeconds: 30 } })
    expect(paramsOf(plain, 'load.baseline')).toMatchObject({ durationSeconds: 60, connections: 10 })
    expect(paramsOf(rb, 'load.baseline')).toEqual({ ...paramsOf(plain, 'load.baseline'), durationSeconds: 30 })
    expect(paramsOf(rb, 'acm.certificate')).toEqual(paramsOf(plain, 'acm.certificate'))
  })

  it('a value the step refuses names the step, the parameter and where it was set', () => {
    expect(() => load({ 'load.baseline': { durationSeconds: 0 } })).toThrow(
      /runbook .*go-live\.yaml with autolytiq\.yaml environments\.sandbox\.stepParams\.load\.baseline: parameters of step "load\.baseline" is invalid:\n {2}at durationSeconds: /,
    )
    expect(() => load({ 'load.baseline': { duration: 30 } })).toThrow(/Unrecognized key\(s\) in object: 'duration'/)
  })

  it('a step no runbook knows is an error naming it; one another runbook uses is left for that runbook', () => {
    expect(() => load({ 'load.baselne': { durationSeconds: 30 } })).toThrow(`${source}: no step "load.baselne"`)
    const db = loadRunbook(REPO, 'rollback-database', stepRegistry(), { source, params: { 'load.baseline': { durationSeconds: 30 } } })
    expect(db.steps.length).toBeGreaterThan(0)
  })
})
