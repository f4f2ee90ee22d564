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
