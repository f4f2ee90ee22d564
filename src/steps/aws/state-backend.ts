import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { httpStatus, isAwsError, pollUntil } from './util.js'

const params = z
  .object({
    /** How long to wait for a new lock table to become ACTIVE. */
    tableTimeoutSeconds: z.number().int().min(1).default(120),
  })
  .strict()

type Problem = 'missing' | 'versioning' | 'encryption' | 'public-access'

/** Default encryptions a state bucket may have: SSE-S3, SSE-KMS, dual-layer SSE-KMS. */
const ENCRYPTED = ['AES256', 'aws:kms', 'aws:kms:dsse']

interface Finding {
  resource: string
  problem: Problem | 'table-missing' | 'table-not-active'
  detail: string
}

/** Terraform's bucket and lock table, plus the tool's own when stateBackend is s3 and names differ. */
export function backendResources(ctx: Context): { buckets: string[]; tables: string[] } {
  const buckets = [ctx.env.terraformState.bucket]
  const tables = [ctx.env.terraformState.lockTable]
  const sb = ctx.env.stateBackend
  if (sb.type === 's3') {
    if (!buckets.includes(sb.bucket)) buckets.push(sb.bucket)
    if (!tables.includes(sb.lockTable)) tables.push(sb.lockTable)
  }
  return { buckets, tables }
}

const PUBLIC_ACCESS_BLOCK = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true }

async function inspectBucket(ctx: Context, bucket: string): Promise<Finding[]> {
  const s3m = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  try {
    await s3.send(new s3m.HeadBucketCommand({ Bucket: bucket }))
  } catch (err) {
    if (httpStatus(err) === 404 || isAwsError(err, 'NotFound', 'NoSuchBucket'))
      return [{ resource: bucket, problem: 'missing', detail: `bucket ${bucket} does not exist` }]
    if (httpStatus(err) === 403)
      throw new UserError(
        `S3 bucket ${bucket} exists but this account cannot read it (bucket names are global: another account may own it)`,
        'choose another terraformState.bucket / stateBackend.bucket in autolytiq.yaml',
      )
    throw err
  }
  const found: Finding[] = []
  const versioning = await s3.send(new s3m.GetBucketVersioningCommand({ Bucket: bucket }))
  if (versioning.Status !== 'Enabled') found.push({ resource: bucket, problem: 'versioning', detail: `versioning is ${versioning.Status ?? 'off'}` })
  try {
    const enc = await s3.send(new s3m.GetBucketEncryptionCommand({ Bucket: bucket }))
    const algos = (enc.ServerSideEncryptionConfiguration?.Rules ?? []).map((r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm)
    // SSE-KMS (an organisation's key) is as compliant as AES256 and must never be "repaired" down
    // to it; AES256 is only what a new or unencrypted bucket gets.
    if (!algos.some((a) => a && ENCRYPTED.includes(a)))
      found.push({ resource: bucket, problem: 'encryption', detail: `default encryption is ${algos.join(',') || 'none'}, not AES256 or SSE-KMS` })
  } catch (err) {
    if (!isAwsError(err, 'ServerSideEncryptionConfigurationNotFoundError')) throw err
    found.push({ resource: bucket, problem: 'encryption', detail: 'no default encryption' })
  }
  try {
    const pab = await s3.send(new s3m.GetPublicAccessBlockCommand({ Bucket: bucket }))
    const off = Object.keys(PUBLIC_ACCESS_BLOCK).filter((k) => pab.PublicAccessBlockConfiguration?.[k as keyof typeof PUBLIC_ACCESS_BLOCK] !== true)
    if (off.length) found.push({ resource: bucket, problem: 'public-access', detail: `public access block off: ${off.join(', ')}` })
  } catch (err) {
    if (!isAwsError(err, 'NoSuchPublicAccessBlockConfiguration')) throw err
    found.push({ resource: bucket, problem: 'public-access', detail: 'no public access block' })
  }
  return found.map((f) => ({ ...f, detail: `${bucket}: ${f.detail}` }))
}

async function inspectTable(ctx: Context, table: string): Promise<Finding[]> {
  const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb')
  const ddb = await ctx.clients.aws.dynamodb()
  let t
  try {
    t = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return [{ resource: table, problem: 'table-missing', detail: `lock table ${table} does not exist` }]
    throw err
  }
  const key = t?.KeySchema ?? []
  const lockIdType = t?.AttributeDefinitions?.find((a) => a.AttributeName === 'LockID')?.AttributeType
  if (key.length !== 1 || key[0]?.AttributeName !== 'LockID' || key[0]?.KeyType !== 'HASH' || lockIdType !== 'S')
    // The key of a table cannot be changed in place; replacing it would drop Terraform's locks.
    throw new StepFailedError(
      `lock table ${table} exists with key ${JSON.stringify(key)}, but Terraform needs a string hash key named LockID`,
      `delete or rename it (when no Terraform run is active), or choose another lockTable in autolytiq.yaml`,
    )
  if (t?.TableStatus !== 'ACTIVE') return [{ resource: table, problem: 'table-not-active', detail: `lock table ${table} is ${t?.TableStatus}` }]
  return []
}

async function inspect(ctx: Context): Promise<Finding[]> {
  const { buckets, tables } = backendResources(ctx)
  const all = await Promise.all([...buckets.map((b) => inspectBucket(ctx, b)), ...tables.map((t) => inspectTable(ctx, t))])
  return all.flat()
}

async function repairBucket(ctx: Context, bucket: string, problems: Set<string>): Promise<void> {
  const s3m = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  if (problems.has('missing')) {
    ctx.log(`creating bucket ${bucket}`)
    try {
      await s3.send(
        new s3m.CreateBucketCommand({
          Bucket: bucket,
          // us-east-1 is the one region that rejects an explicit LocationConstraint.
          ...(ctx.env.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: ctx.env.region as never } }),
        }),
      )
    } catch (err) {
      // A crash between create and save: the bucket is already ours.
      if (!isAwsError(err, 'BucketAlreadyOwnedByYou')) throw err
    }
  }
  if (problems.has('missing') || problems.has('versioning'))
    await s3.send(new s3m.PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  if (problems.has('missing') || problems.has('encryption'))
    await s3.send(
      new s3m.PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    )
  if (problems.has('missing') || problems.has('public-access'))
    await s3.send(new s3m.PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: PUBLIC_ACCESS_BLOCK }))
}

async function ensureTable(ctx: Context, table: string, missing: boolean, timeoutMs: number): Promise<void> {
  const { CreateTableCommand, DescribeTableCommand } = await import('@aws-sdk/client-dynamodb')
  const ddb = await ctx.clients.aws.dynamodb()
  if (missing) {
    ctx.log(`creating lock table ${table}`)
    try {
      await ddb.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      )
    } catch (err) {
      if (!isAwsError(err, 'ResourceInUseException')) throw err
    }
  }
  await pollUntil(ctx, {
    what: `lock table ${table} ACTIVE`,
    timeoutMs,
    intervalMs: 2_000,
    next: 're-run the same command: the table is re-checked and the wait resumes',
    probe: async () => {
      const status = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus
      return { done: status === 'ACTIVE', progress: `status ${status}` }
    },
  })
}

/** Plan 1.5: the Terraform state bucket and lock table, each property checked and repaired. */
export const stateBackend: Step<z.infer<typeof params>> = {
  id: 'state-backend',
  title: 'Terraform state bucket and lock table',
  description:
    'Plan 1.5: S3 state bucket with versioning, default encryption (AES256 for a new bucket; an existing SSE-KMS configuration is kept) and a full public access block, and the DynamoDB lock table (LockID); drifted properties are repaired.',
  danger: 'mutating',
  params,
  async plan(ctx) {
    const { buckets, tables } = backendResources(ctx)
    return [
      ...buckets.flatMap((b) => [
        `s3 HeadBucket ${b}, GetBucketVersioning, GetBucketEncryption, GetPublicAccessBlock`,
        `s3 CreateBucket ${b} (only if missing)`,
        `s3 PutBucketVersioning ${b} Status=Enabled (if missing or drifted)`,
        `s3 PutBucketEncryption ${b} SSEAlgorithm=AES256 (only if the bucket is new or has no default encryption; SSE-KMS is kept)`,
        `s3 PutPublicAccessBlock ${b} BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets=true (if missing or drifted)`,
      ]),
      ...tables.flatMap((t) => [`dynamodb DescribeTable ${t}`, `dynamodb CreateTable ${t} LockID(S) HASH PAY_PER_REQUEST (only if missing)`]),
    ]
  },
  async check(ctx) {
    const { buckets, tables } = backendResources(ctx)
    const found = await inspect(ctx)
    const outputs = { buckets, tables }
    if (found.length === 0) return { status: 'done', detail: `${buckets.join(', ')} and ${tables.join(', ')} as required`, outputs }
    const detail = found.map((f) => f.detail).join('; ')
    const created = found.filter((f) => f.problem === 'missing' || f.problem === 'table-missing').length
    return created === found.length ? { status: 'todo', detail } : { status: 'drift', detail }
  },
  async run(ctx, p) {
    await requireAccount(ctx)
    const { buckets, tables } = backendResources(ctx)
    const found = await inspect(ctx)
    for (const b of buckets) {
      const problems = new Set(found.filter((f) => f.resource === b).map((f) => f.problem))
      if (problems.size) await repairBucket(ctx, b, problems)
    }
    for (const t of tables) {
      const problems = found.filter((f) => f.resource === t).map((f) => f.problem)
      if (problems.length) await ensureTable(ctx, t, problems.includes('table-missing'), p.tableTimeoutSeconds * 1000)
    }
    return { buckets, tables }
  },
  async verify(ctx) {
    const left = await inspect(ctx)
    if (left.length) throw new StepFailedError(`state backend still not as required: ${left.map((f) => f.detail).join('; ')}`)
  },
}
