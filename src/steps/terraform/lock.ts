import { hostname, userInfo } from 'node:os'
import { LockHeldError } from '../../engine/errors.js'
import type { Context } from '../../engine/types.js'
import { pidAlive } from '../../engine/lock.js'
import { httpStatus, isAwsError } from '../aws/util.js'
import { commandLine } from './tf.js'

/**
 * Terraform's state lock (S3 backend, use_lockfile): the object `<key>.tflock` holding Terraform's
 * lock info. A terraform killed while it holds it (SIGKILL, OOM, a lost machine) leaves it behind,
 * and every later plan or apply waits on it and fails with "Error acquiring the state lock".
 */
export interface TerraformLockInfo {
  ID: string
  Operation?: string
  Who?: string
  Version?: string
  Created?: string
  Path?: string
}

/** What terraform.apply records before it starts `terraform apply` (state outputs, cleared when it returns). */
export interface ApplyInFlight {
  runId: string
  host: string
  user: string
  /** The CLI's pid, then terraform's own once it runs. */
  cliPid: number
  terraformPid?: number
  startedAt: string
  planSha256?: string
}

export const IN_FLIGHT = 'inFlight'

export const lockObjectKey = (ctx: Context): string => `${ctx.env.terraformState.key}.tflock`

export function describeTerraformLock(ctx: Context, l: TerraformLockInfo): string {
  return `s3://${ctx.env.terraformState.bucket}/${lockObjectKey(ctx)} (lock ID ${l.ID}, ${l.Operation ?? 'terraform'} by ${l.Who ?? 'someone'} since ${l.Created ?? '?'})`
}

export function inFlightApply(ctx: Context): ApplyInFlight | undefined {
  const f = ctx.state.outputs('terraform.apply')?.[IN_FLIGHT]
  return f && typeof f === 'object' ? (f as ApplyInFlight) : undefined
}

export async function readTerraformLock(ctx: Context): Promise<TerraformLockInfo | undefined> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3')
  try {
    const r = await (await ctx.clients.aws.s3()).send(new GetObjectCommand({ Bucket: ctx.env.terraformState.bucket, Key: lockObjectKey(ctx) }))
    const text = (await r.Body?.transformToString()) ?? ''
    try {
      return { ID: '?', ...(JSON.parse(text) as Partial<TerraformLockInfo>) } as TerraformLockInfo
    } catch {
      return { ID: '?' } // an unreadable lock is still a lock
    }
  } catch (err) {
    if (httpStatus(err) === 404 || isAwsError(err, 'NoSuchKey', 'NotFound', 'NoSuchBucket')) return undefined
    throw err
  }
}

/**
 * Why `lock` is provably the lock of a `terraform apply` this tool started and that is dead, or
 * undefined. Proof: terraform.apply recorded the apply (this host, its terraform pid, when) before
 * it started; the lock was taken on this host by this user after that; that pid no longer runs.
 * Anything else (another machine, another user, a live process) may be a terraform still working.
 */
export function deadApplyReason(ctx: Context, lock: TerraformLockInfo): string | undefined {
  const f = inFlightApply(ctx)
  if (!f || f.host !== hostname()) return undefined
  if (lock.Who !== `${userInfo().username}@${hostname()}`) return undefined
  const created = Date.parse(lock.Created ?? '')
  // terraform writes nanoseconds; a lock taken before the apply started is someone else's
  if (!Number.isFinite(created) || created < Date.parse(f.startedAt) - 1000) return undefined
  const pids = [f.cliPid, f.terraformPid].filter((p): p is number => typeof p === 'number')
  if (f.terraformPid === undefined || pids.some(pidAlive)) return undefined
  return `the terraform apply (pid ${f.terraformPid}) that run ${f.runId} started on ${f.host} at ${f.startedAt} no longer runs`
}

export const forceUnlockCommand = (ctx: Context, l: TerraformLockInfo): string => commandLine(ctx, ['force-unlock', '-force', l.ID])

/** Deletes the lock object if it still holds `lock` (same lock ID): what `terraform force-unlock` does for use_lockfile. */
export async function removeTerraformLock(ctx: Context, lock: TerraformLockInfo): Promise<boolean> {
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3')
  const now = await readTerraformLock(ctx)
  if (!now || now.ID !== lock.ID) return false
  await (await ctx.clients.aws.s3()).send(new DeleteObjectCommand({ Bucket: ctx.env.terraformState.bucket, Key: lockObjectKey(ctx) }))
  return true
}

/**
 * For `state unlock`: when terraform.apply recorded an apply that never finished, looks at
 * Terraform's lock and removes it only if that apply provably left it and is dead (audited).
 * Undefined when no apply was in flight or no lock is held (no AWS call without an apply record).
 */
export async function releaseDeadTerraformLock(ctx: Context): Promise<{ lock: string; removed: boolean; reason: string } | undefined> {
  if (!inFlightApply(ctx)) return undefined
  const lock = await readTerraformLock(ctx)
  if (!lock) return undefined
  const where = describeTerraformLock(ctx, lock)
  const dead = deadApplyReason(ctx, lock)
  if (!dead) return { lock: where, removed: false, reason: `not provably left by a dead apply of this tool; if its terraform is dead, \`${forceUnlockCommand(ctx, lock)}\`` }
  const removed = await removeTerraformLock(ctx, lock)
  await ctx.audit.append({
    runId: ctx.runId,
    environment: ctx.envName,
    action: 'state.unlock.terraform',
    params: { lock: lockObjectKey(ctx), lockId: lock.ID },
    result: removed ? 'ok' : 'failed',
    detail: removed ? dead : 'the lock changed while unlocking',
  })
  return { lock: where, removed, reason: removed ? dead : 'it changed hands while unlocking; run state unlock again' }
}

/** Terraform's lock held: exit 3 naming the holder, and what to do about it. */
export async function lockHeld(ctx: Context): Promise<LockHeldError> {
  const lock = await readTerraformLock(ctx)
  if (!lock) return new LockHeldError(`Terraform's state lock for ${ctx.envName} was held, and is free now`, `re-run: autolytiq deploy --env ${ctx.envName}`)
  const dead = deadApplyReason(ctx, lock)
  return new LockHeldError(
    `Terraform's state is locked: ${describeTerraformLock(ctx, lock)}`,
    dead
      ? `${dead}: \`autolytiq state unlock --env ${ctx.envName}\` removes its lock, then re-run`
      : `wait for that terraform to finish; if it is dead (you checked on its machine), remove its lock with \`${forceUnlockCommand(ctx, lock)}\``,
  )
}
