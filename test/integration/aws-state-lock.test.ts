import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53'
import { parse, stringify } from 'yaml'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { BIN, REPO, runCli } from '../helpers/cli.js'
import { awsProject, type AwsProject } from './aws-project.js'

// The S3 state backend: state in the bucket, the environment lock a DynamoDB conditional write.
// Two CLI processes on one environment: the second is refused with exit 3 naming the holder.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

describe.skipIf(!aws)('S3 state backend with the DynamoDB lock', () => {
  let p: AwsProject
  let holder: ChildProcess | undefined
  afterEach(() => {
    if (holder?.exitCode === null) holder.kill('SIGKILL')
    p?.cleanup()
  })

  /** A project on the shared backend (bootstrapped) and a first run holding its lock while it waits. */
  async function sharedBackendWithHolder(): Promise<{ child: ChildProcess; output: () => string }> {
    p = await awsProject({ endpoint })
    const config = parse(readFileSync(join(p.root, 'autolytiq.yaml'), 'utf8'))
    config.environments.sandbox.stateBackend = { type: 's3', bucket: p.stateBucket, lockTable: p.lockTable }
    writeFileSync(join(p.root, 'autolytiq.yaml'), stringify(config))
    // A step that waits: the certificate stays PENDING on the shared moto for a minute.
    const rb = parse(readFileSync(join(REPO, 'runbooks', 'go-live.yaml'), 'utf8'))
    for (const ph of rb.phases) for (const s of ph.steps) if (s.uses === 'acm.certificate') s.with = { waitTimeoutSeconds: 120, pollSeconds: 1 }
    writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), stringify(rb))
    await new Route53Client(p.sdk).send(new CreateHostedZoneCommand({ Name: p.domain, CallerReference: `lock-${Date.now()}` }))

    // Bootstrap: the shared backend does not exist yet, so its own creation runs on the local backend.
    const boot = await runCli(['deploy', '--env', 'sandbox', '--only', 'state-backend', '--yes'], { ...p.cliEnv, AUTOLYTIQ_STATE_BACKEND: 'local' })
    expect(boot.code, boot.stdout + boot.stderr).toBe(0)

    // First engineer: a run that holds the lock while it waits.
    holder = spawn(process.execPath, [BIN, 'deploy', '--env', 'sandbox', '--only', 'acm.certificate', '--yes'], {
      env: { ...process.env, CI: 'true', ...p.cliEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let holderOutput = ''
    holder.stdout!.on('data', (d) => (holderOutput += d))
    holder.stderr!.on('data', (d) => (holderOutput += d))
    return { child: holder, output: () => holderOutput }
  }

  const lockItem = async (ddb: DynamoDBClient): Promise<Record<string, { N?: string; S?: string }> | undefined> =>
    (await ddb.send(new GetItemCommand({ TableName: p.lockTable, Key: { LockID: { S: 'autolytiq/sandbox/lock' } }, ConsistentRead: true }))).Item

  it('a second process is refused with exit 3 naming the first; after the first stops, it runs', async () => {
    const first = await sharedBackendWithHolder()
    const holderOutput = first.output
    const running = first.child
    const ddb = new DynamoDBClient(p.sdk)
    const item = await until('the lock item', async () => {
      if (running.exitCode !== null) throw new Error(`the holder exited early (${running.exitCode}):\n${holderOutput()}`)
      return lockItem(ddb)
    })
    expect(Number(item.pid?.N)).toBe(running.pid)

    // Second engineer, same environment: refused, told who holds it.
    const second = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--yes'], p.cliEnv)
    expect(second.code, second.stdout + second.stderr).toBe(3)
    expect(second.stderr).toMatch(new RegExp(`environment "sandbox" is locked by \\S+@\\S+ \\(pid ${running.pid}, \`autolytiq deploy\``))
    expect(second.stderr).toContain('it is still alive')

    // `status` reads the shared state and lock, not a local file.
    const status = await runCli(['status', '--env', 'sandbox', '--json'], p.cliEnv)
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ stateFile: `s3://${p.stateBucket}/autolytiq/sandbox/state.json`, lock: { pid: running.pid } })

    // A live holder cannot be unlocked by accident.
    const unlock = await runCli(['state', 'unlock', '--env', 'sandbox'], p.cliEnv)
    expect(unlock.code).toBe(2)
    expect(unlock.stderr).toContain('is held by a live run')

    // The first run is interrupted: it saves state to S3, releases the lock, exits 130.
    running.kill('SIGINT')
    expect(await exited(running)).toBe(130)
    const after = await ddb.send(new GetItemCommand({ TableName: p.lockTable, Key: { LockID: { S: 'autolytiq/sandbox/lock' } }, ConsistentRead: true }))
    expect(after.Item).toBeUndefined()

    const third = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--yes'], p.cliEnv)
    expect(third.code, third.stdout + third.stderr).toBe(0)
    const state = JSON.parse(
      await (await new S3Client(p.sdk).send(new GetObjectCommand({ Bucket: p.stateBucket, Key: 'autolytiq/sandbox/state.json' }))).Body!.transformToString(),
    )
    expect(state.runs.map((r: { result: string }) => r.result)).toEqual(['interrupted', 'succeeded'])
    expect(state.outputs['acm.certificate'].certificateArn).toMatch(/^arn:aws:acm:/)

    // `state reset` on the shared backend keeps a copy next to the object, then removes it.
    const reset = await runCli(['state', 'reset', '--env', 'sandbox', '--yes'], p.cliEnv)
    expect(reset.code, reset.stdout + reset.stderr).toBe(0)
    const left = await new S3Client(p.sdk).send(new ListObjectsV2Command({ Bucket: p.stateBucket, Prefix: 'autolytiq/sandbox/' }))
    expect((left.Contents ?? []).map((o) => o.Key)).toEqual([expect.stringMatching(/^autolytiq\/sandbox\/state\.json\.reset-\d+\.bak$/)])
  })

  it('a holder killed with SIGKILL leaves its lock: the next run exits 3 calling it dead, only `state unlock` takes it over', async () => {
    const first = await sharedBackendWithHolder()
    const ddb = new DynamoDBClient(p.sdk)
    await until('the lock item', async () => {
      if (holder!.exitCode !== null) throw new Error(`the holder exited early (${holder!.exitCode}):\n${first.output()}`)
      return lockItem(ddb)
    })
    holder!.kill('SIGKILL')
    await exited(holder!)
    expect(Number((await lockItem(ddb))?.pid?.N)).toBe(holder!.pid)

    // a run never takes a lock over by itself: it names the dead holder and the command that frees it
    const refused = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--yes'], p.cliEnv)
    expect(refused.code, refused.stdout + refused.stderr).toBe(3)
    expect(refused.stderr).toMatch(new RegExp(`locked by \\S+@\\S+ \\(pid ${holder!.pid}`))
    expect(refused.stderr).toMatch(/looks dead \(process \d+ no longer runs/)
    expect(refused.stderr).toContain('autolytiq state unlock --env sandbox')
    expect(Number((await lockItem(ddb))?.pid?.N)).toBe(holder!.pid)

    const unlock = await runCli(['state', 'unlock', '--env', 'sandbox'], p.cliEnv)
    expect(unlock.code, unlock.stdout + unlock.stderr).toBe(0)
    expect(await lockItem(ddb)).toBeUndefined()
    const resumed = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--yes'], p.cliEnv)
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    ddb.destroy()
  })

  it('before the shared backend exists: a deploy exits 2 saying how to bootstrap it, status still works', async () => {
    p = await awsProject({ endpoint })
    const config = parse(readFileSync(join(p.root, 'autolytiq.yaml'), 'utf8'))
    config.environments.sandbox.stateBackend = { type: 's3', bucket: p.stateBucket, lockTable: p.lockTable }
    writeFileSync(join(p.root, 'autolytiq.yaml'), stringify(config))

    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--yes'], p.cliEnv)
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stderr).toContain(`lock table ${p.lockTable} of environment "sandbox" does not exist yet`)
    expect(r.stderr).toContain('AUTOLYTIQ_STATE_BACKEND=local autolytiq deploy --env sandbox --only state-backend --yes')

    const status = await runCli(['status', '--env', 'sandbox', '--json'], p.cliEnv)
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ next: 'preflight.tools' })
    expect(JSON.parse(status.stdout).lock).toBeUndefined()
  })
})
