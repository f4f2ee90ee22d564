/**
 * The AWS Load Balancer Controller's IAM policy (terraform/modules/platform/iam.tf) must grant what
 * the controller's own published policy grants, under the same conditions: a missing action
 * (SetRulePriorities was one) fails reconciles at runtime, a missing tag condition lets the
 * controller touch load balancers it does not own. Upstream copy: test/fixtures/upstream/README.md.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from '@cdktf/hcl2json'
import { describe, expect, it } from 'vitest'
import { REPO } from '../helpers/cli.js'

const UPSTREAM = join(REPO, 'test/fixtures/upstream/aws-load-balancer-controller-v2.13.4-iam_policy.json')

interface UpstreamStatement {
  Effect: string
  Action: string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, string | string[]>>
}
interface HclStatement {
  sid?: string
  effect?: string
  actions: string[]
  resources: string[]
  condition?: { test: string; variable: string; values: string[] }[]
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v])

/** One comparable line per statement: effect, sorted actions, resources and conditions. */
function key(effect: string, actions: string[], resources: string[], conditions: [string, string, string[]][]): string {
  const cond = conditions.map(([test, variable, values]) => `${test}(${variable})=${[...values].sort().join('|')}`).sort()
  return JSON.stringify({ effect, actions: [...actions].sort(), resources: [...resources].sort(), cond })
}

function upstreamStatements(): string[] {
  const doc = JSON.parse(readFileSync(UPSTREAM, 'utf8')) as { Statement: UpstreamStatement[] }
  return doc.Statement.map((s) =>
    key(
      s.Effect,
      s.Action,
      list(s.Resource),
      Object.entries(s.Condition ?? {}).flatMap(([test, vars]) =>
        Object.entries(vars).map(([v, values]): [string, string, string[]] => [test, v, list(values)]),
      ),
    ),
  )
}

async function ourStatements(): Promise<string[]> {
  const file = join(REPO, 'terraform/modules/platform/iam.tf')
  const hcl = (await parse(file, readFileSync(file, 'utf8'))) as { data: Record<string, Record<string, { statement: HclStatement[] }[]>> }
  const doc = hcl.data.aws_iam_policy_document!.alb_controller![0]!
  return doc.statement.map((s) =>
    key(
      s.effect ?? 'Allow',
      s.actions,
      s.resources,
      (s.condition ?? []).map((c): [string, string, string[]] => [c.test, c.variable, c.values]),
    ),
  )
}

describe('AWS Load Balancer Controller IAM policy', () => {
  it('has every statement of the published v2.13 policy, conditions included, and nothing else', async () => {
    const ours = await ourStatements()
    const upstream = upstreamStatements()
    expect(
      upstream.filter((s) => !ours.includes(s)),
      'upstream statements missing or different in iam.tf',
    ).toEqual([])
    expect(
      ours.filter((s) => !upstream.includes(s)),
      'statements in iam.tf the upstream policy does not have',
    ).toEqual([])
  })

  it('grants every upstream action (SetRulePriorities included)', async () => {
    const actions = (keys: string[]) => new Set(keys.flatMap((k) => (JSON.parse(k) as { actions: string[] }).actions))
    const ours = actions(await ourStatements())
    const missing = [...actions(upstreamStatements())].filter((a) => !ours.has(a))
    expect(missing).toEqual([])
    expect(ours.has('elasticloadbalancing:SetRulePriorities')).toBe(true)
  })
})
