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

/** Terraform's state path, as its lock info and the legacy digest item name it ("<bucket>/<key>"). */
const lockId = (ctx: Context): string => `${ctx.env.terraformState.bucket}/${ctx.env.terraformState.key}`

/** The S3 backend's lock file (use_lockfile): `<key>.tflock` beside the state object. */
const lockKey = (ctx: Context): string => `${ctx.env.terraformState.key}.tflock`

const awsName = (err: unknown): string => (err as { name?: string })?.name ?? ''

/**
 * Takes Terraform's own state lock while the state object is swapped, in Terraform's format, so a
 * concurrent `terraform apply` waits or fails instead of writing over the restore. Refuses when
 * someone holds it. With use_lockfile (what terraform.init configures; Terraform 1.11 deprecates
 * the DynamoDB lock) the lock is the object `<key>.tflock`, created only if absent (If-None-Match),
 * exactly as Terraform creates it — seen against moto: a lock file held this way makes the real
 * terraform 1.11 fail with "Error acquiring the state lock".
 */
export async function withTerraformLock<T>(ctx: Context, operation: string, fn: () => Promise<T>): Promise<T> {
  const { PutObjectCommand, GetObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  const Bucket = ctx.env.terraformState.bucket
  const Key = lockKey(ctx)
  const info = {
    ID: randomUUID(),
    Operation: operation,
    Info: '',
    Who: `${userInfo().username}@${hostname()}`,
    Version: 'autolytiq',
    Created: new Date().toISOString(),
    Path: lockId(ctx),
  }
  try {
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: JSON.stringify(info), ContentType: 'application/json', IfNoneMatch: '*' }))
  } catch (err) {
    if (awsName(err) !== 'PreconditionFailed' && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412) throw err
    let who = 'someone'
    try {
      const held = await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString()
      const i = JSON.parse(held) as { Who?: string; Operation?: string; Created?: string }
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
    // only our own lock: the ID inside must still be ours
    const now = await s3.send(new GetObjectCommand({ Bucket, Key })).then(
      (r) => r.Body!.transformToString(),
      () => '',
    )
    if (now.includes(info.ID)) await s3.send(new DeleteObjectCommand({ Bucket, Key }))
  }
}

/** S3 user metadata naming who wrote a state version autolytiq wrote itself (x-amz-meta-autolytiq-written-by). */
export const STATE_WRITER_METADATA = 'autolytiq-written-by'

/**
 * Makes `versionId` the current version of the state object: a copy of it onto the same key (S3
 * keeps every version, so this is itself undoable). With use_lockfile Terraform keeps no digest;
 * a backend that was once initialised with dynamodb_table left an MD5 digest item in the lock
 * table, and that item, if present, is updated to the restored content so that a terraform still
 * configured with the table does not refuse the state.
 */
export async function makeCurrent(ctx: Context, versionId: string): Promise<string | undefined> {
  const { CopyObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  const { bucket, key } = ctx.env.terraformState
  const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`
  const copied = await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: key,
      CopySource: source,
      // Who wrote this version, for verify's "what changed" (Terraform's own writes say nothing).
      MetadataDirective: 'REPLACE',
      ContentType: 'application/json',
      Metadata: { [STATE_WRITER_METADATA]: `${userInfo().username}@${hostname()}`, 'autolytiq-run': ctx.runId },
    }),
  )
  const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: copied.VersionId }))).Body!.transformToString()
  await updateDigest(ctx, createHash('md5').update(body).digest('hex'))
  return copied.VersionId
}

async function updateDigest(ctx: Context, digest: string): Promise<void> {
  const { GetItemCommand, PutItemCommand } = await import('@aws-sdk/client-dynamodb')
  const ddb = await ctx.clients.aws.dynamodb()
  const TableName = ctx.env.terraformState.lockTable
  const Key = { LockID: { S: `${lockId(ctx)}-md5` } }
  // No digest item (use_lockfile keeps none) or no table: nothing to agree with.
  const item = await ddb.send(new GetItemCommand({ TableName, Key })).catch((err: unknown) => {
    if (awsName(err) === 'ResourceNotFoundException') return undefined
    throw err
  })
  if (!item?.Item) return
  await ddb.send(new PutItemCommand({ TableName, Item: { ...Key, Digest: { S: digest } } }))
}
