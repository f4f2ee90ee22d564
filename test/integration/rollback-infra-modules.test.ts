/**
 * Issue #15 part 5: `rollback infra` rehearsed against real state versions of the real modules.
 * terraform/modules/kms and terraform/modules/observability (test/fixtures/modules-on-moto)
 * are applied through the CLI's own terraform steps with the real hashicorp/aws provider against
 * moto, state in the versioned S3 bucket `state-backend` makes. Then a bad change is applied (log
 * retention 7 -> 30 days, one service's log group dropped), the engineer reverts autolytiq.yaml and
 * runs `autolytiq rollback infra --state-version <the version before> --yes --apply --json`: the
 * earlier state version becomes current, the plan names what it puts back, the apply puts it back
 * in moto, and a fresh plan (the CLI's own terraform.plan) is empty.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { EnvState } from '../../src/engine/state.js'
import type { CliResult } from '../helpers/cli.js'
import { explain, modulesOnMoto, type DeployReport as Report, type ModulesOnMoto } from './modules-on-moto.js'

const aws = inject('aws')
const DROPPED = 'data-retention-service'

interface InfraJson {
  ok: boolean
  result: string
  restored: boolean
  applied: boolean
  chosen: string
  previous?: string
  currentVersion?: string
  plan?: { changes: boolean; summary: string; text: string }
}

let m: ModulesOnMoto
const cli = (label: string, args: string[]): Promise<CliResult> => m.cli(label, args)
async function deploy(label: string, steps?: string[]): Promise<Report> {
  const r = await m.deploy(label, {}, steps)
  expect(r.code, explain(r)).toBe(0)
  return JSON.parse(r.stdout) as Report
}
const step = (r: Report, id: string) => r.steps.find((s) => s.id === id)

/** What the engineer edits: the environment's terraformVars in autolytiq.yaml. */
function setTerraformVars(vars: Record<string, unknown>): void {
  const file = join(m.p.root, 'autolytiq.yaml')
  const config = parse(readFileSync(file, 'utf8')) as { environments: Record<string, Record<string, unknown>> }
  config.environments.sandbox!.terraformVars = vars
  writeFileSync(file, stringify(config))
}

/** The current S3 version of the state object (what terraform.apply records too). */
async function currentStateVersion(): Promise<string> {
  const key = 'infrastructure/terraform.tfstate'
  const r = await m.s3.send(new ListObjectVersionsCommand({ Bucket: m.p.stateBucket, Prefix: key }))
  return r.Versions!.find((v) => v.Key === key && v.IsLatest)!.VersionId!
}

/**
 * The services' log groups in moto (name -> retention days): CloudWatch Logs DescribeLogGroups,
 * never through terraform (moto's /moto-api/data.json still lists deleted log groups).
 */
async function logGroups(): Promise<Record<string, number | undefined>> {
  const prefix = '/autolytiq/sandbox/'
  const r = await m.awsJson<{ logGroups?: { logGroupName: string; retentionInDays?: number }[] }>('logs', 'Logs_20140328.DescribeLogGroups', {
    logGroupNamePrefix: prefix,
  })
  return Object.fromEntries((r.logGroups ?? []).map((g) => [g.logGroupName.slice(prefix.length), g.retentionInDays]))
}

const state = (): EnvState => JSON.parse(readFileSync(join(m.p.home, 'state', 'sandbox.json'), 'utf8')) as EnvState

describe.skipIf(!aws)('rollback infra on the real modules (kms + observability on moto)', () => {
  beforeAll(async () => {
    m = await modulesOnMoto('rollback-infra-modules', aws!)
  }, 120_000)

  afterAll(() => m?.stop())

  it(
    'apply, apply a bad change, revert autolytiq.yaml, rollback infra --apply to the state before: AWS is back and the next plan is empty',
    { timeout: 600_000 },
    async () => {
      // Given: the modules applied (the good state version) ...
      const first = await deploy('first apply')
      expect(step(first, 'terraform.apply')?.outcome).toBe('changed')
      const good = await currentStateVersion()
      const services = Object.keys(await logGroups())
      expect(services).toContain(DROPPED)
      expect(Object.values(await logGroups()).every((d) => d === 7)).toBe(true)

      // ... and a bad change applied on top of it: 30-day retention, one service's log group gone.
      setTerraformVars({ log_retention_days: 30, services: services.filter((s) => s !== DROPPED) })
      const bad = await deploy('bad change')
      const badPlan = step(bad, 'terraform.plan')?.detail ?? ''
      expect(badPlan).toMatch(
        /^0 to add, 11 to change, 1 to destroy: - module\.observability\.aws_cloudwatch_log_group\.service\["data-retention-service"\]; ~ /,
      )
      expect(badPlan).toContain('~ module.observability.aws_cloudwatch_log_group.service["api-gateway"] (retention_in_days)')
      const badVersion = await currentStateVersion()
      expect(badVersion).not.toBe(good)
      // terraform.apply recorded the version before it as its rollback point: what the engineer picks.
      expect(state().rollbackPoints).toContainEqual(
        expect.objectContaining({ kind: 'terraform-state', step: 'terraform.apply', data: expect.objectContaining({ versionId: good }) }),
      )
      expect(await logGroups()).not.toHaveProperty(DROPPED)

      // When: the engineer reverts autolytiq.yaml and rolls the state back to the good version.
      setTerraformVars({})
      const r = await cli('rollback infra --apply', ['rollback', 'infra', '--env', 'sandbox', '--state-version', good, '--yes', '--apply', '--json'])
      expect(r.code, explain(r)).toBe(0)
      // One JSON document on stdout; terraform's apply progress is neither in it nor on stderr (--json: no progress).
      const out = JSON.parse(r.stdout) as InfraJson
      expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/Modifications complete|Creation complete|Apply complete/)
      expect(out).toMatchObject({ ok: true, result: 'applied', restored: true, applied: true, chosen: good, previous: badVersion })
      // The plan after the restore: the refreshed state against the reverted variables.
      expect(out.plan!.summary).toMatch(/^1 to add, 11 to change, 0 to destroy: ~ /)
      expect(out.plan!.summary).toContain('+ module.observability.aws_cloudwatch_log_group.service["data-retention-service"]')
      expect(out.plan!.summary).toContain('(retention_in_days)')

      // Then: AWS is as before the bad change, S3 keeps every version, and the CLI's own next plan is empty.
      expect(await logGroups()).toEqual(Object.fromEntries(services.map((s) => [s, 7])))
      expect(await currentStateVersion()).not.toBe(badVersion)
      const after = await deploy('plan after the rollback', ['terraform.tfvars', 'terraform.init', 'terraform.plan', 'terraform.apply'])
      expect(step(after, 'terraform.plan')?.detail, `the plan after the rollback must be empty: ${step(after, 'terraform.plan')?.detail}`).toBe('no changes')
      expect(after.steps.map((s) => s.outcome)).not.toContain('changed')
    },
  )
})
