import { createHash, randomUUID } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { LockHeldError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'

/** One S3 version of the Terraform state object. */
export interface StateVersion {
  versionId: string
  lastModified?: string
  size?: number
  etag?: string
  latest: boolean
  deleteMarker: boolean
}

/** `aws s3api list-object-versions --prefix <key>`, only the exact key, newest first. */
export async function listStateVersions(ctx: Context): Promise<StateVersion[]> {
  const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  const { bucket, key } = ctx.env.terraformState
  const out: StateVersion[] = []
  let KeyMarker: string | undefined
  let VersionIdMarker: string | undefined
  do {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, KeyMarker, VersionIdMarker }))
    for (const v of page.Versions ?? [])
      if (v.Key === key)
        out.push({
          versionId: v.VersionId!,
          lastModified: v.LastModified?.toISOString(),
          size: v.Size,
          etag: v.ETag,
          latest: Boolean(v.IsLatest),
          deleteMarker: false,
        })
    for (const m of page.DeleteMarkers ?? [])
      if (m.Key === key) out.push({ versionId: m.VersionId!, lastModified: m.LastModified?.toISOString(), latest: Boolean(m.IsLatest), deleteMarker: true })
    KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
    VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined
  } while (KeyMarker)
  return out.sort((a, b) => (b.lastModified ?? '').localeCompare(a.lastModified ?? ''))
}

export function describeVersion(v: StateVersion): string {
  return `${v.versionId}  ${v.lastModified ?? '?'}  ${v.deleteMarker ? '(delete marker)' : `${v.size ?? '?'} bytes`}${v.latest ? '  (current)' : ''}`
}

/** Terraform's S3 backend lock item (DynamoDB `LockID` = "<bucket>/<key>") and its state digest item ("<bucket>/<key>-md5"). */
const lockId = (ctx: Context): string => `${ctx.env.terraformState.bucket}/${ctx.env.terraformState.key}`

/**
 * Takes Terraform's own state lock while the state object is swapped, in Terraform's format, so a
 * concurrent `terraform apply` waits or fails instead of writing over the restore. Refuses when
 * someone holds it.
 */
export async function withTerraformLock<T>(ctx: Context, operation: string, fn: () => Promise<T>): Promise<T> {
  const { PutItemCommand, DeleteItemCommand, GetItemCommand } = await import('@aws-sdk/client-dynamodb')
  const ddb = await ctx.clients.aws.dynamodb()
  const TableName = ctx.env.terraformState.lockTable
  const id = randomUUID()
  const info = {
    ID: id,
    Operation: operation,
    Info: '',
    Who: `${userInfo().username}@${hostname()}`,
    Version: 'autolytiq',
    Created: new Date().toISOString(),
    Path: lockId(ctx),
  }
  try {
    await ddb.send(
      new PutItemCommand({
        TableName,
        Item: { LockID: { S: lockId(ctx) }, Info: { S: JSON.stringify(info) } },
        ConditionExpression: 'attribute_not_exists(LockID)',
      }),
    )
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err
    const held = await ddb.send(new GetItemCommand({ TableName, Key: { LockID: { S: lockId(ctx) } } }))
    let who = 'someone'
    try {
      const i = JSON.parse(held.Item?.Info?.S ?? '{}') as { Who?: string; Operation?: string; Created?: string }
      who = `${i.Who ?? 'someone'} (${i.Operation ?? 'terraform'}, since ${i.Created ?? '?'})`
    } catch {
      // an unreadable lock is still a lock
    }
    throw new LockHeldError(
      `the Terraform state s3://${lockId(ctx)} is locked by ${who}; nothing was changed`,
      'wait for that terraform run to finish (or `terraform force-unlock` if it is dead), then re-run',
    )
  }
  try {
    return await fn()
  } finally {
    await ddb.send(
      new DeleteItemCommand({
        TableName,
        Key: { LockID: { S: lockId(ctx) } },
        ConditionExpression: 'contains(Info, :id)',
        ExpressionAttributeValues: { ':id': { S: id } },
      }),
    )
  }
}

/**
 * Makes `versionId` the current version of the state object: a copy of it onto the same key (S3
 * keeps every version, so this is itself undoable). Terraform's S3 backend checks the object
 * against an MD5 digest it keeps in the lock table; the digest is updated to the restored content,
 * or the next `terraform plan` would refuse the state.
 */
export async function makeCurrent(ctx: Context, versionId: string): Promise<string | undefined> {
  const { CopyObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  const { bucket, key } = ctx.env.terraformState
  const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`
  const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: source }))
  const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: copied.VersionId }))).Body!.transformToString()
  await updateDigest(ctx, createHash('md5').update(body).digest('hex'))
  return copied.VersionId
}

async function updateDigest(ctx: Context, digest: string): Promise<void> {
  const { GetItemCommand, PutItemCommand } = await import('@aws-sdk/client-dynamodb')
  const ddb = await ctx.clients.aws.dynamodb()
  const TableName = ctx.env.terraformState.lockTable
  const Key = { LockID: { S: `${lockId(ctx)}-md5` } }
  // No digest item: this backend (or Terraform version) does not keep one; nothing to agree with.
  if (!(await ddb.send(new GetItemCommand({ TableName, Key }))).Item) return
  await ddb.send(new PutItemCommand({ TableName, Item: { ...Key, Digest: { S: digest } } }))
}
