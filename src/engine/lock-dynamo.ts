import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { AwsClients } from '../clients/aws.js'
import { UserError } from './errors.js'
import { describeHolder, lockHeldError, newHolder, staleReason, type EnvLock, type LockHolder } from './lock.js'
import { notBootstrapped } from './state-s3.js'

const HEARTBEAT_MS = 5_000

function errorName(err: unknown): string {
  return (err as { name?: string })?.name ?? ''
}

function toItem(lockId: string, h: LockHolder): Record<string, AttributeValue> {
  return {
    LockID: { S: lockId },
    runId: { S: h.runId },
    user: { S: h.user },
    host: { S: h.host },
    pid: { N: String(h.pid) },
    command: { S: h.command },
    startedAt: { S: h.startedAt },
    heartbeatAt: { S: h.heartbeatAt },
  }
}

function fromItem(item: Record<string, AttributeValue>): LockHolder {
  const s = (k: string): string => item[k]?.S ?? 'unknown'
  return {
    runId: s('runId'),
    user: s('user'),
    host: s('host'),
    pid: Number(item.pid?.N ?? -1),
    command: s('command'),
    startedAt: s('startedAt'),
    heartbeatAt: item.heartbeatAt?.S ?? new Date(0).toISOString(),
  }
}

/**
 * The environment lock for the S3 state backend: one item in the DynamoDB lock table (the same
 * table terraform locks with; our LockID cannot collide with terraform's `bucket/key` ids).
 * Acquisition is a conditional PutItem (`attribute_not_exists`), so of two engineers on two
 * laptops exactly one wins; the other is told who holds it. The holder renews a heartbeat, and
 * only a holder silent for longer than the lease can be removed with `state unlock`.
 */
export class DynamoLock implements EnvLock {
  private mine?: LockHolder
  private timer?: NodeJS.Timeout
  lost = false

  constructor(
    private readonly aws: AwsClients,
    private readonly table: string,
    private readonly lockId: string,
    private readonly env: string,
  ) {}

  private async client() {
    const ddb = await import('@aws-sdk/client-dynamodb')
    return { ddb, client: await this.aws.dynamodb() }
  }

  private translate(err: unknown): unknown {
    if (errorName(err) === 'ResourceNotFoundException') return notBootstrapped(`lock table ${this.table}`, this.env)
    return err
  }

  async holder(): Promise<LockHolder | undefined> {
    const { ddb, client } = await this.client()
    try {
      const r = await client.send(new ddb.GetItemCommand({ TableName: this.table, Key: { LockID: { S: this.lockId } }, ConsistentRead: true }))
      return r.Item ? fromItem(r.Item) : undefined
    } catch (err) {
      // Before bootstrap there is no table, hence no holder; status and unlock stay usable.
      if (errorName(err) === 'ResourceNotFoundException') return undefined
      throw err
    }
  }

  async acquire(command: string, runId: string, retried = false): Promise<void> {
    const { ddb, client } = await this.client()
    const h = newHolder(command, runId)
    try {
      await client.send(new ddb.PutItemCommand({ TableName: this.table, Item: toItem(this.lockId, h), ConditionExpression: 'attribute_not_exists(LockID)' }))
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw this.translate(err)
      const current = await this.holder()
      // Released between our write and our read: try once more rather than report a phantom holder.
      if (!current && !retried) return this.acquire(command, runId, true)
      if (!current) throw err
      throw lockHeldError(this.env, current)
    }
    this.mine = h
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS)
    this.timer.unref()
  }

  private async heartbeat(): Promise<void> {
    if (!this.mine) return
    const { ddb, client } = await this.client()
    const now = new Date().toISOString()
    try {
      await client.send(
        new ddb.UpdateItemCommand({
          TableName: this.table,
          Key: { LockID: { S: this.lockId } },
          UpdateExpression: 'SET heartbeatAt = :now',
          ConditionExpression: 'runId = :mine',
          ExpressionAttributeValues: { ':now': { S: now }, ':mine': { S: this.mine.runId } },
        }),
      )
      this.mine.heartbeatAt = now
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        // Someone unlocked and took the environment: stop before the next step.
        this.lost = true
        clearInterval(this.timer)
      }
      // A network blip is retried at the next beat; the lease covers several missed beats.
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer)
    if (!this.mine) return
    const { ddb, client } = await this.client()
    try {
      await client.send(
        new ddb.DeleteItemCommand({
          TableName: this.table,
          Key: { LockID: { S: this.lockId } },
          ConditionExpression: 'runId = :mine',
          ExpressionAttributeValues: { ':mine': { S: this.mine.runId } },
        }),
      )
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err
    }
    this.mine = undefined
  }

  async forceUnlock(force: boolean): Promise<LockHolder | undefined> {
    const h = await this.holder()
    if (!h) return undefined
    if (!staleReason(h) && !force)
      throw new UserError(
        `the lock of "${this.env}" is held by a live run: ${describeHolder(h)}`,
        'wait for it to finish; --force takes the lock anyway (only if you know that run is gone)',
      )
    const { ddb, client } = await this.client()
    try {
      // Conditional on the holder we inspected: a fresh holder that just took over is never removed.
      await client.send(
        new ddb.DeleteItemCommand({
          TableName: this.table,
          Key: { LockID: { S: this.lockId } },
          ConditionExpression: 'runId = :seen',
          ExpressionAttributeValues: { ':seen': { S: h.runId } },
        }),
      )
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') throw new UserError(`the lock of "${this.env}" changed hands while unlocking`, 'run it again')
      throw err
    }
    return h
  }
}
