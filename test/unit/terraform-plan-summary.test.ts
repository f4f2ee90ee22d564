/**
 * What terraform.plan says about a plan: counts plus the addresses, actions and attribute names
 * that change, read from `terraform show -json`. The fixture is a real second plan of
 * terraform/environments/sandbox-platform on moto before the rds_performance_insights switch
 * (trimmed to two no-op resources, the one update and three outputs).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { changedAttributes, describePlanChanges, plannedChanges, summarize, type PlanJson, type PlanSummary } from '../../src/steps/terraform/plan.js'
import { REPO } from '../helpers/cli.js'

const fixture = JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'terraform-plan', 'second-plan-performance-insights.json'), 'utf8')) as PlanJson
const summary = (plan: PlanJson): PlanSummary => ({ ...summarize(plan.resource_changes ?? []), ...plannedChanges(plan), changes: true, planFile: 'p' })

describe('terraform plan summary', () => {
  it('names the resource, its action and the attribute a real drifting plan changes', () => {
    const s = summary(fixture)
    expect(s.resources).toEqual([
      { address: 'module.platform.module.database.aws_rds_cluster_instance.this[0]', action: 'update', attributes: ['performance_insights_kms_key_id'] },
    ])
    expect(s.outputs).toEqual([])
    expect(describePlanChanges(s)).toBe(
      '0 to add, 1 to change, 0 to destroy: ~ module.platform.module.database.aws_rds_cluster_instance.this[0] (performance_insights_kms_key_id)',
    )
  })

  it('never puts an attribute value in the description, only names', () => {
    const text = describePlanChanges(summary(fixture))
    expect(text).not.toMatch(/arn:aws:kms/)
  })

  it('lists deletions and replacements first, with the attributes forcing a replacement, and caps the list', () => {
    const creates = Array.from({ length: 14 }, (_, i) => ({
      address: `aws_s3_bucket.b${i}`,
      change: { actions: ['create'], before: null, after: { bucket: `b${i}` } },
    }))
    const plan: PlanJson = {
      resource_changes: [
        ...creates,
        {
          address: 'aws_db_subnet_group.this',
          change: {
            actions: ['delete', 'create'],
            before: { name: 'a', subnet_ids: ['s1'] },
            after: { name: 'b' },
            after_unknown: { id: true, subnet_ids: [true] },
            replace_paths: [['name']],
          },
        },
        { address: 'aws_sns_topic.old', change: { actions: ['delete'], before: { name: 'old' }, after: null } },
      ],
      output_changes: { vpc_id: { actions: ['update'] }, api_domain: { actions: ['no-op'] } },
    }
    const s = summary(plan)
    expect(s).toMatchObject({ add: 15, change: 0, destroy: 2, outputs: ['vpc_id'] })
    const text = describePlanChanges(s)
    expect(text).toMatch(
      /^15 to add, 0 to change, 2 to destroy: - aws_sns_topic\.old; -\/\+ aws_db_subnet_group\.this \(id, name, subnet_ids\); \+ aws_s3_bucket\.b0;/,
    )
    expect(text).toMatch(/; … 5 more$/)
  })

  it('an attribute becoming unknown counts; one unchanged and known does not', () => {
    expect(
      changedAttributes({
        actions: ['update'],
        before: { a: 1, b: 'x', c: { d: [1] } },
        after: { a: 1, b: 'y', c: {} },
        after_unknown: { a: false, c: { d: true } },
      }),
    ).toEqual(['b', 'c'])
  })

  it('no changes is said plainly', () => {
    expect(describePlanChanges({ add: 0, change: 0, destroy: 0, changes: false, planFile: 'p', destroys: [] })).toBe('no changes')
  })
})
