/**
 * Issue #15's limit "a SIGKILL during `terraform apply` resumes cleanly: lock, partial state".
 * The real kms and observability modules (test/fixtures/modules-on-moto, with its two slow
 * terraform_data resources between them) are applied through `autolytiq deploy` on moto with the
 * real hashicorp/aws provider. The kill matrix's fault injection (AUTOLYTIQ_FAULT_KILL) SIGKILLs
 * terraform, its children and the CLI inside `terraform apply`, once terraform has persisted partial
 * state while holding its S3 state lock file. Then, as the on-call engineer would:
 *   - the next deploy stops at once (exit 3) naming both locks the dead run left;
 *   - `autolytiq state unlock` removes the CLI's lock and Terraform's (provably the dead apply's);
 *   - the next deploy applies the rest of the reviewed plan (the saved plan is stale now);
 *   - nothing was created twice (one KMS key), the next plan is empty.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { AuditEntry } from '../../src/engine/audit.js'
import { explain, modulesOnMoto, type DeployReport as Report, type ModulesOnMoto } from './modules-on-moto.js'

const aws = inject('aws')
const KEY = 'infrastructure/terraform.tfstate'

let m: ModulesOnMoto
const deploy = (label: string, extra: Record<string, string> = {}) => m.deploy(label, extra)

async function terraformLock(): Promise<string | undefined> {
  try {
    return await (await m.s3.send(new GetObjectCommand({ Bucket: m.p.stateBucket, Key: `${KEY}.tflock` }))).Body!.transformToString()
  } catch {
    return undefined
  }
}

const stateResources = async (): Promise<string[]> => {
  const body = await (await m.s3.send(new GetObjectCommand({ Bucket: m.p.stateBucket, Key: KEY }))).Body!.transformToString()
  return (JSON.parse(body) as { resources: { module?: string; type: string; name: string }[] }).resources.map((r) =>
    [r.module, `${r.type}.${r.name}`].filter(Boolean).join('.'),
  )
}

describe.skipIf(!aws)('SIGKILL during terraform apply (real modules on moto)', () => {
  // slow_resources: the fixture's two waiting resources, where the fault injection kills
  beforeAll(async () => {
    m = await modulesOnMoto('terraform-kill-apply', aws!, { slow_resources: true })
  }, 120_000)

  afterAll(() => m?.stop())

  it('the kill leaves both locks and partial state; state unlock clears them; the resume applies the rest, nothing twice', { timeout: 1_500_000 }, async () => {
    // Given: a deploy killed inside terraform apply, after terraform persisted partial state.
    const killed = await deploy('killed deploy', { AUTOLYTIQ_FAULT_KILL: 'terraform.apply' })
    expect(killed.signal, explain(killed)).toBe('SIGKILL')
    expect(killed.stderr).toMatch(/\[fault injection\] SIGKILL in terraform\.apply during `terraform apply` \(pid \d+\), after it persisted partial state/)
    // Terraform's lock file is still there, and the state holds part of the plan: the key, not the log groups.
    expect(await terraformLock()).toContain('OperationTypeApply')
    const partial = await stateResources()
    expect(partial).toContain('module.kms.aws_kms_key.this')
    expect(partial).toContain('terraform_data.slow_a')
    expect(partial.some((r) => r.includes('aws_cloudwatch_log_group'))).toBe(false)

    // When: the engineer re-runs: refused at once (exit 3), naming the dead run's locks and the way out.
    const refused = await deploy('refused resume')
    expect(refused.code, explain(refused)).toBe(3)
    expect(JSON.parse(refused.stdout)).toMatchObject({
      ok: false,
      exitCode: 3,
      error: { next: expect.stringContaining('autolytiq state unlock --env sandbox') },
    })

    // state unlock removes the CLI's lock and Terraform's (the apply that took it is provably dead).
    const unlock = await m.cli('state unlock', ['state', 'unlock', '--env', 'sandbox', '--json'])
    expect(unlock.code, explain(unlock)).toBe(0)
    const u = JSON.parse(unlock.stdout) as { removed: unknown; terraformLock: { removed: boolean; reason: string } | null }
    expect(u.removed).not.toBeNull()
    expect(u.terraformLock).toMatchObject({ removed: true, reason: expect.stringMatching(/terraform apply \(pid \d+\) .* no longer runs/) })
    expect(await terraformLock()).toBeUndefined()

    // ... and the resume applies what is left of the reviewed plan.
    const resumed = await deploy('resume')
    expect(resumed.code, explain(resumed)).toBe(0)
    const report = JSON.parse(resumed.stdout) as Report
    expect(report.steps.find((s) => s.id === 'terraform.apply')?.outcome).toBe('changed')
    expect(resumed.stderr + resumed.stdout).not.toMatch(/AlreadyExists/)

    // Then: everything exists once. A KMS key has no name: a second apply of its create would make a second key.
    const keys = await m.awsJson<{ Keys: { KeyId: string }[] }>('kms', 'TrentService.ListKeys', {})
    expect(keys.Keys).toHaveLength(1)
    const groups = await m.awsJson<{ logGroups: { logGroupName: string }[] }>('logs', 'Logs_20140328.DescribeLogGroups', {
      logGroupNamePrefix: '/autolytiq/sandbox/',
    })
    expect(groups.logGroups.length).toBeGreaterThanOrEqual(11)
    expect(await stateResources()).toContain('terraform_data.slow_b')
    // the audit log says who removed Terraform's lock and why
    const audit = readFileSync(join(m.p.home, 'state', 'sandbox.audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
    expect(audit.filter((e) => e.action === 'state.unlock.terraform').map((e) => e.result)).toEqual(['ok'])

    // and the next plan is empty.
    const again = await deploy('plan after the resume')
    expect(again.code, explain(again)).toBe(0)
    expect((JSON.parse(again.stdout) as Report).steps.find((s) => s.id === 'terraform.plan')?.detail).toBe('no changes')
  })
})
