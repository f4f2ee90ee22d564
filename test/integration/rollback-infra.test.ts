/**
 * `autolytiq rollback infra --state-version` with the real terraform binary and its S3 backend
 * (state bucket with versioning in moto, Terraform's S3 lock file: use_lockfile). The fixture is applied twice, so
 * the state object has two versions that differ by one resource.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { awsConfigFor } from '../harness/moto.js'
import { createStateBackend, createTerraformWorkspace, type TerraformBackend, type TerraformWorkspace } from '../harness/terraform.js'
import { runCli, REPO } from '../helpers/cli.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'
import type { AuditEntry } from '../../src/engine/audit.js'
import type { EnvState } from '../../src/engine/state.js'

const aws = inject('aws')
const ENV = 'rbinfra'
const FIXTURE = join(REPO, 'test', 'fixtures', 'rollback-infra')

let backend: TerraformBackend
let ws: TerraformWorkspace
let p: TempProject
let s3: S3Client
let versionWithout: string // applied with with_feature=false: release only
let versionWith: string // then with the feature: release + feature

interface InfraJson {
  result: string
  restored: boolean
  applied: boolean
  chosen: string
  previous?: string
  currentVersion?: string
  note?: string
  plan?: { changes: boolean; summary: string; text: string }
  versions: { versionId: string; latest: boolean }[]
}

const cli = (...args: string[]) => runCli(['rollback', 'infra', '--env', ENV, ...args], p.env, { timeoutMs: 170_000 })

async function versions(): Promise<{ id: string; latest: boolean }[]> {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: backend.bucket, Prefix: backend.key }))
  // the exact key: Terraform's lock file `<key>.tflock` shares the prefix
  return (r.Versions ?? []).filter((v) => v.Key === backend.key).map((v) => ({ id: v.VersionId!, latest: Boolean(v.IsLatest) }))
}

async function body(versionId?: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket: backend.bucket, Key: backend.key, VersionId: versionId }))).Body!.transformToString()
}

const resources = (state: string): string[] =>
  (JSON.parse(state) as { resources: { type: string; name: string }[] }).resources.map((r) => `${r.type}.${r.name}`)

describe.skipIf(!aws)('rollback infra: S3 state versions with the real terraform', () => {
  beforeAll(async () => {
    s3 = new S3Client(awsConfigFor(aws!.endpoint))
    // use_lockfile, as terraform.init configures it (Terraform 1.11 deprecates dynamodb_table)
    backend = await createStateBackend(aws!.endpoint, { key: 'infrastructure/terraform.tfstate', lock: 'lockfile' })
    ws = await createTerraformWorkspace({ backend, configDir: FIXTURE })
    await ws.init()
    await ws.apply(await ws.plan({ with_feature: 'false' }))
    versionWithout = (await versions()).find((v) => v.latest)!.id
    await ws.apply(await ws.plan())
    versionWith = (await versions()).find((v) => v.latest)!.id
    expect(versionWith).not.toBe(versionWithout)

    p = tempProject({
      environments: {
        [ENV]: localEnvironment({
          sandbox: true,
          terraformDir: ws.dir,
          terraformState: { bucket: backend.bucket, key: backend.key, lockTable: backend.dynamodbTable },
        }),
      },
    })
    mkdirSync(join(p.home, 'sandbox'), { recursive: true })
    writeFileSync(join(p.home, 'sandbox', 'runtime.json'), JSON.stringify({ awsEndpoint: aws!.endpoint }))
  }, 180_000)

  afterAll(async () => {
    await ws?.cleanup()
    s3?.destroy()
    p?.cleanup()
  })

  it('--dry-run lists the versions and the exact calls; unknown version or no --yes: exit 2; nothing changes', async () => {
    const r = await cli('--state-version', versionWithout, '--dry-run')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`> ${versionWithout}`)
    expect(r.stdout).toContain(`${versionWith}`)
    expect(r.stdout).toContain(`s3 CopyObject s3://${backend.bucket}/${backend.key} <- versionId ${versionWithout}`)
    expect(r.stdout).toMatch(/terraform -chdir=.* plan -input=false/)

    const unknown = await cli('--state-version', 'no-such-version', '--yes')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('has no version no-such-version')
    expect(unknown.stderr).toContain(versionWith)

    const noYes = await cli('--state-version', versionWithout)
    expect(noYes.code).toBe(2)
    expect((await versions()).find((v) => v.latest)!.id).toBe(versionWith)
  })

  it('restores the earlier version: it becomes current, terraform plan reports the difference, nothing applied without --apply', async () => {
    const r = await cli('--state-version', versionWithout, '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as InfraJson
    expect(out).toMatchObject({ result: 'planned', restored: true, applied: false, chosen: versionWithout, previous: versionWith })
    expect(out.plan).toMatchObject({ changes: true, summary: '1 to add, 0 to change, 0 to destroy: + terraform_data.feature[0]' })
    expect(out.plan!.text).toContain('terraform_data.feature[0] will be created')
    expect(out.note).toContain('--apply')

    // S3: a new current version with the old content; both earlier versions kept.
    const now = await versions()
    expect(now).toHaveLength(3)
    expect(now.find((v) => v.latest)!.id).toBe(out.currentVersion)
    expect(await body()).toBe(await body(versionWithout))
    // With use_lockfile terraform 1.11 keeps no MD5 digest item (verified here with the real binary),
    // and the restore wrote none...
    const ddb = new DynamoDBClient(awsConfigFor(aws!.endpoint))
    const digest = await ddb.send(new GetItemCommand({ TableName: backend.dynamodbTable, Key: { LockID: { S: `${backend.bucket}/${backend.key}-md5` } } }))
    ddb.destroy()
    expect(digest.Item).toBeUndefined()
    // ...and released its lock file...
    await expect(s3.send(new GetObjectCommand({ Bucket: backend.bucket, Key: `${backend.key}.tflock` }))).rejects.toMatchObject({ name: 'NoSuchKey' })
    // ...so another terraform (the harness workspace) reads the restored state without complaint.
    expect((await ws.run(['state', 'list'])).stdout.trim().split('\n')).toEqual(['terraform_data.release'])

    const state = JSON.parse(readFileSync(join(p.home, 'state', `${ENV}.json`), 'utf8')) as EnvState
    expect(state.rollbackPoints).toContainEqual(
      expect.objectContaining({ kind: 'terraform-state', data: { bucket: backend.bucket, key: backend.key, versionId: versionWith } }),
    )
    const audit = readFileSync(join(p.home, 'state', `${ENV}.audit.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
    expect(audit.map((e) => `${e.action} ${e.result}`)).toEqual(['rollback.infra.restore-state started', 'rollback.infra.restore-state ok'])
  })

  it('restoring the same version again changes nothing in S3', async () => {
    const r = await cli('--state-version', versionWithout, '--yes', '--json')
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as InfraJson
    expect(out).toMatchObject({ restored: false, result: 'planned' })
    expect(out.note).toContain('already the current state')
    expect(await versions()).toHaveLength(3)
  })

  it('--apply applies the plan after the restore and verifies a fresh plan is empty', async () => {
    const r = await cli('--state-version', versionWithout, '--yes', '--apply', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(JSON.parse(r.stdout) as InfraJson).toMatchObject({ result: 'applied', applied: true })
    expect(resources(await body())).toEqual(['terraform_data.feature', 'terraform_data.release'])
    expect(await versions()).toHaveLength(4)
  })

  it("refuses while someone holds Terraform's state lock file (exit 3), changing nothing; the real terraform honours autolytiq's", async () => {
    const Key = `${backend.key}.tflock`
    const info = {
      ID: 'x',
      Operation: 'OperationTypeApply',
      Who: 'bob@ci-runner',
      Version: '1.11.0',
      Created: new Date().toISOString(),
      Path: `${backend.bucket}/${backend.key}`,
    }
    await s3.send(new PutObjectCommand({ Bucket: backend.bucket, Key, Body: JSON.stringify(info) }))
    try {
      const r = await cli('--state-version', versionWithout, '--yes')
      expect(r.code).toBe(3)
      expect(r.stderr).toContain('locked by bob@ci-runner')
      expect(await versions()).toHaveLength(4)
      // the lock file is Terraform's own: terraform itself waits on it and gives up
      await expect(ws.run(['plan', '-input=false', '-no-color', '-lock-timeout=1s'])).rejects.toThrow(/Error acquiring the state lock/)
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: backend.bucket, Key }))
    }
  })
})
