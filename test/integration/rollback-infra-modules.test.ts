/**
 * Issue #15 part 5: `rollback infra` rehearsed against real state versions of the real modules.
 * terraform/modules/kms and terraform/modules/observability (test/fixtures/rollback-infra-modules)
 * are applied through the CLI's own terraform steps with the real hashicorp/aws provider against
 * moto, state in the versioned S3 bucket `state-backend` makes. Then a bad change is applied (log
 * retention 7 -> 30 days, one service's log group dropped), the engineer reverts autolytiq.yaml and
 * runs `autolytiq rollback infra --state-version <the version before> --yes --apply --json`: the
 * earlier state version becomes current, the plan names what it puts back, the apply puts it back
 * in moto, and a fresh plan (the CLI's own terraform.plan) is empty.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { execa } from 'execa'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { NodeSha256 } from '../../src/clients/eks-token.js'
import type { EnvState } from '../../src/engine/state.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { REPO, runCli, type CliResult } from '../helpers/cli.js'
import { awsProject, type AwsProject } from './aws-project.js'

const aws = inject('aws')
const TF_STEPS = ['state-backend', 'terraform.tfvars', 'terraform.init', 'terraform.plan', 'terraform.apply']
const DROPPED = 'data-retention-service'

interface Report {
  result: string
  steps: { id: string; outcome: string; detail?: string }[]
}
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

let p: AwsProject
let dir: string
let s3: S3Client
const seconds: Record<string, number> = {}

const explain = (r: CliResult): string => `exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`
async function cli(label: string, args: string[]): Promise<CliResult> {
  const t0 = Date.now()
  const r = await runCli(args, p.cliEnv, { timeoutMs: 300_000 })
  seconds[label] = (Date.now() - t0) / 1000
  return r
}
async function deploy(label: string, steps = TF_STEPS): Promise<Report> {
  const r = await cli(label, ['deploy', '--env', 'sandbox', ...steps.flatMap((s) => ['--only', s]), '--yes', '--json'])
  expect(r.code, explain(r)).toBe(0)
  return JSON.parse(r.stdout) as Report
}
const step = (r: Report, id: string) => r.steps.find((s) => s.id === id)

/** What the engineer edits: the environment's terraformVars in autolytiq.yaml. */
function setTerraformVars(vars: Record<string, unknown>): void {
  const file = join(p.root, 'autolytiq.yaml')
  const config = parse(readFileSync(file, 'utf8')) as { environments: Record<string, Record<string, unknown>> }
  config.environments.sandbox!.terraformVars = vars
  writeFileSync(file, stringify(config))
}

/** The current S3 version of the state object (what terraform.apply records too). */
async function currentStateVersion(): Promise<string> {
  const key = 'infrastructure/terraform.tfstate'
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: p.stateBucket, Prefix: key }))
  return r.Versions!.find((v) => v.Key === key && v.IsLatest)!.VersionId!
}

/**
 * The services' log groups in moto (name -> retention days): CloudWatch Logs DescribeLogGroups,
 * signed with SigV4 here (the project has no CloudWatch Logs SDK client; moto's /moto-api/data.json
 * still lists deleted log groups), never through terraform.
 */
async function logGroups(): Promise<Record<string, number | undefined>> {
  const prefix = '/autolytiq/sandbox/'
  const url = new URL(aws!.endpoint)
  const body = JSON.stringify({ logGroupNamePrefix: prefix })
  const signer = new SignatureV4({ service: 'logs', region: 'us-east-1', credentials: p.sdk.credentials, sha256: NodeSha256 })
  const req = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.DescribeLogGroups' },
    body,
  })
  const res = await fetch(url, { method: 'POST', headers: req.headers, body })
  expect(res.status, await res.clone().text()).toBe(200)
  const r = (await res.json()) as { logGroups?: { logGroupName: string; retentionInDays?: number }[] }
  return Object.fromEntries((r.logGroups ?? []).map((g) => [g.logGroupName.slice(prefix.length), g.retentionInDays]))
}

const state = (): EnvState => JSON.parse(readFileSync(join(p.home, 'state', 'sandbox.json'), 'utf8')) as EnvState

describe.skipIf(!aws)('rollback infra on the real modules (kms + observability on moto)', () => {
  beforeAll(async () => {
    dir = makeTempDir('rollback-infra-modules')
    // The repository's layout, so the fixture's ../../../terraform/modules sources resolve; init writes here.
    cpSync(join(REPO, 'terraform', 'modules'), join(dir, 'terraform', 'modules'), { recursive: true })
    cpSync(join(REPO, 'test', 'fixtures', 'rollback-infra-modules'), join(dir, 'test', 'fixtures', 'rollback-infra-modules'), { recursive: true })
    p = await awsProject({
      endpoint: aws!.endpoint,
      environment: { terraformDir: join(dir, 'test', 'fixtures', 'rollback-infra-modules') },
      runtime: { terraformVars: { aws_endpoint: aws!.endpoint } },
    })
    // The project's setup writes the CLI configuration (the machine's provider mirror, else the registry).
    p.cliEnv.TF_CLI_CONFIG_FILE = join(dir, 'terraformrc')
    await execa('bash', [join(REPO, 'scripts', 'terraform-cli-config.sh')], { env: { TF_CLI_CONFIG_FILE: p.cliEnv.TF_CLI_CONFIG_FILE } })
    s3 = new S3Client(p.sdk)
  }, 120_000)

  afterAll(() => {
    process.stderr.write(
      `[rollback-infra-modules] ${Object.entries(seconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', ')}\n`,
    )
    s3?.destroy()
    p?.cleanup()
    if (dir) removeTempDir(dir)
  })

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
