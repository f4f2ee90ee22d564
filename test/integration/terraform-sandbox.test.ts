import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CopyObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3'
import { parse, stringify } from 'yaml'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { REQUIRED_OUTPUTS } from '../../src/steps/terraform/outputs.js'
import { awsProject, outcome, runInProcess, type AwsProject } from './aws-project.js'

// The CLI's phase-2 steps with the real terraform binary, on test/fixtures/terraform-outputs (the
// sandbox's variables and outputs over terraform_data, so each apply takes seconds), with the state
// in a versioned moto bucket and S3 lock files: first apply, no-change re-run, a change leaving a
// rollback point, dry-run, missing binary, moved endpoint. The sandbox's own root
// (terraform/environments/sandbox-platform, the platform module) is applied by
// terraform-sandbox-platform.test.ts and as phase 2 of test/e2e/sandbox.test.ts.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''
const TERRAFORM = ['terraform.tfvars', 'terraform.init', 'terraform.plan', 'terraform.apply', 'terraform.outputs']
const only = TERRAFORM.flatMap((s) => ['--only', s])

interface Report {
  result: string
  changed: number
  steps: { id: string; outcome: string; detail?: string; plan?: string[] }[]
  error?: { message: string; next?: string }
}

function readState(p: AwsProject): {
  outputs: Record<string, Record<string, unknown>>
  rollbackPoints: { kind: string; step: string; data: Record<string, unknown> }[]
} {
  return JSON.parse(readFileSync(join(p.home, 'state', 'sandbox.json'), 'utf8'))
}

async function stateVersions(p: AwsProject): Promise<string[]> {
  const r = await new S3Client(p.sdk).send(new ListObjectVersionsCommand({ Bucket: p.stateBucket, Prefix: 'infrastructure/terraform.tfstate' }))
  return (r.Versions ?? []).filter((v) => v.Key === 'infrastructure/terraform.tfstate').map((v) => v.VersionId!)
}

describe.skipIf(!aws)('terraform steps against the real binary and an S3 backend on moto', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  it('applies once, then finds no changes; a change is planned, applied and leaves a rollback point', async () => {
    p = await awsProject({ endpoint })
    expect((await runInProcess(p, ['state-backend'])).report.result).toBe('succeeded')

    // First run: init, plan with additions, apply, outputs saved.
    const first = await runCli(['deploy', '--env', 'sandbox', ...only, '--yes', '--json'], p.cliEnv, { timeoutMs: 240_000 })
    const r1 = JSON.parse(first.stdout) as Report
    expect(first.code, first.stdout + first.stderr).toBe(0)
    // The plan's detail names what it changes (address, action), never values.
    expect(r1.steps.find((s) => s.id === 'terraform.plan')?.detail).toMatch(/^7 to add, 0 to change, 0 to destroy: \+ /)
    // terraform.outputs is read-only: its check reads the outputs and the runner saves them.
    // terraform.plan only reads the infrastructure: checked, never counted as a change.
    expect(r1.steps.map((s) => s.outcome)).toEqual(['changed', 'changed', 'checked', 'changed', 'unchanged'])
    const state1 = readState(p)
    expect(state1.outputs['terraform.plan']).toMatchObject({ add: 7, change: 0, destroy: 0, changes: true })
    for (const o of REQUIRED_OUTPUTS) expect(state1.outputs['terraform.outputs']?.[o], o).toEqual(expect.any(String))
    expect(state1.outputs['terraform.outputs']).toMatchObject({ eks_cluster_name: 'autolytiq-sandbox', rds_cluster_id: 'autolytiq-sandbox' })
    // The first apply had no earlier state to roll back to.
    expect(state1.rollbackPoints.filter((r) => r.kind === 'terraform-state')).toEqual([])
    const versions1 = await stateVersions(p)
    expect(versions1.length).toBeGreaterThan(0)

    // Second run: every step already done, terraform writes no new state version.
    const second = await runCli(['deploy', '--env', 'sandbox', ...only, '--yes', '--json'], p.cliEnv, { timeoutMs: 240_000 })
    const r2 = JSON.parse(second.stdout) as Report
    expect(second.code, second.stdout).toBe(0)
    expect(r2.changed).toBe(0)
    expect(r2.steps.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged'])
    expect(r2.steps.find((s) => s.id === 'terraform.plan')?.detail).toBe('no changes')
    expect(await stateVersions(p)).toEqual(versions1)

    // A sizing change in autolytiq.yaml: tfvars rewritten, an in-place change planned and applied,
    // and the state version from before the apply recorded as the rollback point.
    const configPath = join(p.root, 'autolytiq.yaml')
    const config = parse(readFileSync(configPath, 'utf8'))
    config.environments.sandbox.terraformVars = { nat_gateway_count: 3 }
    writeFileSync(configPath, stringify(config))
    const third = await runCli(['deploy', '--env', 'sandbox', ...only, '--yes', '--json'], p.cliEnv, { timeoutMs: 240_000 })
    const r3 = JSON.parse(third.stdout) as Report
    expect(third.code, third.stdout).toBe(0)
    expect(r3.steps.map((s) => [s.id, s.outcome])).toEqual([
      ['terraform.tfvars', 'changed'],
      ['terraform.init', 'unchanged'],
      ['terraform.plan', 'checked'],
      ['terraform.apply', 'changed'],
      ['terraform.outputs', 'unchanged'],
    ])
    const state3 = readState(p)
    expect(state3.outputs['terraform.plan']).toMatchObject({ add: 0, change: 1, destroy: 0 })
    const points = state3.rollbackPoints.filter((r) => r.kind === 'terraform-state')
    expect(points).toHaveLength(1)
    expect(points[0]).toMatchObject({ step: 'terraform.apply', data: { bucket: p.stateBucket, key: 'infrastructure/terraform.tfstate' } })
    const versions3 = await stateVersions(p)
    expect(versions3.length).toBeGreaterThan(versions1.length)
    // The recorded version is the one that was current before the apply, not the new one.
    expect(points[0]!.data.versionId).toBe(versions1[0])
    expect(state3.outputs['terraform.apply']?.stateVersionId).toBe(versions3[0])
  })

  it('a resumed deploy plans again only when the state version or an input changed since its own plan or apply; a new deploy always plans', async () => {
    p = await awsProject({ endpoint })
    expect((await runInProcess(p, ['state-backend'])).report.result).toBe('succeeded')
    const deploy = (kill?: string): ReturnType<typeof runCli> =>
      runCli(
        ['deploy', '--env', 'sandbox', ...only, '--yes', '--json'],
        { ...p.cliEnv, ...(kill ? { AUTOLYTIQ_FAULT_KILL: kill } : {}) },
        { timeoutMs: 240_000 },
      )
    const killedIn = async (step: string): Promise<string> => {
      const r = await deploy(step)
      expect(r.signal, r.stdout + r.stderr).toBe('SIGKILL')
      expect(r.stderr).toContain(`[fault injection] SIGKILL in ${step}`)
      const unlock = await runCli(['state', 'unlock', '--env', 'sandbox', '--json'], p.cliEnv)
      expect(unlock.code, unlock.stdout + unlock.stderr).toBe(0)
      const runs = (JSON.parse(readFileSync(join(p.home, 'state', 'sandbox.json'), 'utf8')) as { runs: { id: string; command: string }[] }).runs
      return runs.filter((r) => r.command === 'deploy').at(-1)!.id
    }
    type Steps = Record<string, { detail?: string; changed?: boolean }>
    const steps = (): Steps => (JSON.parse(readFileSync(join(p.home, 'state', 'sandbox.json'), 'utf8')) as { steps: { 'go-live': Steps } }).steps['go-live']
    const planBasisRun = (): unknown => (readState(p).outputs['terraform.plan']?.basis as { runId?: string } | undefined)?.runId

    // killed right after terraform.plan saved its plan (before the state file recorded it): the next
    // run applies that plan, not a new one
    const planned = await killedIn('terraform.plan')
    expect(readState(p).outputs['terraform.plan']).toBeUndefined()
    const meta = JSON.parse(readFileSync(join(p.home, 'work', 'sandbox', 'terraform.tfplan.json'), 'utf8')) as {
      basis: { runId: string; stateVersionId: string }
    }
    expect(meta.basis).toMatchObject({ runId: planned, stateVersionId: '(no state yet)' })
    const applied = await killedIn('terraform.outputs')
    expect(planBasisRun()).toBe(planned)
    expect(steps()['terraform.apply']?.changed).toBe(true)
    expect(readState(p).outputs['terraform.apply']?.converged).toMatchObject({ runId: applied, stateVersionId: (await stateVersions(p))[0] })

    // killed again (same deploy, nothing changed since the apply): terraform.plan does not plan
    await killedIn('terraform.outputs')
    // nor does terraform.init start the provider again for `terraform validate`
    expect(steps()['terraform.init']?.detail).toMatch(/; terraform (init|validate) succeeded in run \S+, nothing installed changed since$/)
    expect(steps()['terraform.plan']?.detail).toMatch(
      new RegExp(`^applied earlier in this deploy \\(run ${applied}\\); state version and inputs unchanged since`),
    )

    // a new state version (any write: another apply, state rm, rollback infra) makes it plan
    await new S3Client(p.sdk).send(
      new CopyObjectCommand({
        Bucket: p.stateBucket,
        Key: 'infrastructure/terraform.tfstate',
        CopySource: `${p.stateBucket}/infrastructure/terraform.tfstate`,
        MetadataDirective: 'REPLACE',
        Metadata: { touched: 'by-the-test' },
      }),
    )
    const noChanges = await killedIn('terraform.outputs')
    expect(steps()['terraform.plan']?.detail).toBe('no changes')
    expect(planBasisRun()).toBe(noChanges)
    // ...and that plan found nothing to change: the next resume trusts it
    await killedIn('terraform.outputs')
    expect(steps()['terraform.plan']?.detail).toMatch(/^planned with no changes earlier in this deploy/)

    // a changed input (autolytiq.yaml -> terraform.tfvars.json) plans, within the same deploy
    const configPath = join(p.root, 'autolytiq.yaml')
    const config = parse(readFileSync(configPath, 'utf8'))
    config.environments.sandbox.terraformVars = { nat_gateway_count: 3 }
    writeFileSync(configPath, stringify(config))
    const changed = await deploy()
    const rc = JSON.parse(changed.stdout) as Report
    expect(changed.code, changed.stdout + changed.stderr).toBe(0)
    expect(rc.steps.find((s) => s.id === 'terraform.plan')?.detail).toMatch(/^0 to add, 1 to change, 0 to destroy/)
    expect(rc.steps.find((s) => s.id === 'terraform.apply')?.outcome).toBe('changed')

    // that deploy succeeded: the next one is a new deploy and plans for real (drift outside Terraform)
    const fresh = await deploy()
    const rf = JSON.parse(fresh.stdout) as Report
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0)
    expect(rf.steps.find((s) => s.id === 'terraform.plan')?.detail).toBe('no changes')
    // ...while init, whose installation and inputs are unchanged, is not validated again
    expect(rf.steps.find((s) => s.id === 'terraform.init')?.detail).toMatch(
      /; terraform (init|validate) succeeded in run \S+, nothing installed changed since$/,
    )
  })

  it('--dry-run prints the exact terraform commands with the moto backend settings, changing nothing', async () => {
    p = await awsProject({ endpoint })
    const r = await runCli(['deploy', '--env', 'sandbox', ...only, '--dry-run', '--json'], p.cliEnv)
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as Report
    const init = report.steps.find((s) => s.id === 'terraform.init')!.plan!.join('\n')
    expect(init).toContain(`-backend-config=bucket=${p.stateBucket}`)
    // Terraform 1.11: the S3 lock file, not the deprecated dynamodb_table
    expect(init).toContain('-backend-config=use_lockfile=true')
    expect(init).not.toContain('dynamodb_table')
    expect(init).toContain(`-backend-config=endpoints={s3="${endpoint}",sts="${endpoint}"}`)
    expect(init).toContain('-backend-config=skip_credentials_validation=true')
    expect(report.steps.find((s) => s.id === 'terraform.plan')!.plan!.join('\n')).toMatch(
      /plan -input=false -no-color -detailed-exitcode .* -out=.*terraform.tfplan/,
    )
    expect(report.steps.find((s) => s.id === 'terraform.apply')!.plan![0]).toContain(`s3 HeadObject s3://${p.stateBucket}/infrastructure/terraform.tfstate`)
  })

  it('terraform absent: exit 2 with the install hint, and nothing is changed', async () => {
    p = await awsProject({ endpoint })
    expect((await runInProcess(p, ['state-backend'])).report.result).toBe('succeeded')
    const r = await runCli(['deploy', '--env', 'sandbox', ...only, '--yes', '--json'], { ...p.cliEnv, PATH: '/nonexistent' })
    expect(r.code, r.stdout + r.stderr).toBe(2)
    const report = JSON.parse(r.stdout) as Report
    expect(report.error?.message).toBe('terraform is not installed (not found on PATH)')
    expect(report.error?.next).toContain('install terraform >= 1.5 (or OpenTofu)')
    expect(outcome(report as never, 'terraform.init')).toBe('failed')
    expect(await stateVersions(p)).toEqual([])
  })

  it('a moved AWS endpoint (sandbox restarted on another address) is drift: init runs again and plan works', async () => {
    p = await awsProject({ endpoint })
    expect((await runInProcess(p, ['state-backend'])).report.result).toBe('succeeded')
    const first = await runCli(['deploy', '--env', 'sandbox', '--only', 'terraform.tfvars', '--only', 'terraform.init', '--yes', '--json'], p.cliEnv)
    expect(first.code, first.stdout + first.stderr).toBe(0)

    // Given the same moto now reached under another address, as after `sandbox down && sandbox up`.
    const moved = endpoint.replace('127.0.0.1', 'localhost')
    writeFileSync(join(p.home, 'sandbox', 'runtime.json'), JSON.stringify({ awsEndpoint: moved }))
    const second = await runCli(['deploy', '--env', 'sandbox', '--only', 'terraform.init', '--only', 'terraform.plan', '--yes', '--json'], p.cliEnv)
    const r = JSON.parse(second.stdout) as Report
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(r.steps.map((s) => [s.id, s.outcome])).toEqual([
      ['terraform.init', 'changed'],
      ['terraform.plan', 'checked'],
    ])
    expect(r.steps[0]!.detail).toBe(`repaired drift: backend changed: s3 endpoint is ${endpoint}, want ${moved}`)
    const saved = JSON.parse(readFileSync(join(p.home, 'work', 'sandbox', 'terraform', 'terraform.tfstate'), 'utf8'))
    expect(saved.backend.config.endpoints).toMatchObject({ s3: moved })
    expect(saved.backend.config).toMatchObject({ use_lockfile: true, dynamodb_table: null })
  })
})
