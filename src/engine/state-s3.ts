import type { AwsClients } from '../clients/aws.js'
import { UserError } from './errors.js'
import type { StateBackend } from './state.js'

/** Names an S3 error by its code whether the SDK modelled it or not. */
function awsErrorName(err: unknown): string {
  return (err as { name?: string; Code?: string })?.name ?? (err as { Code?: string })?.Code ?? ''
}

interface SseHeaders {
  ServerSideEncryption: 'AES256' | 'aws:kms' | 'aws:kms:dsse'
  SSEKMSKeyId?: string
}

export function notBootstrapped(what: string, env: string): UserError {
  return new UserError(
    `${what} of environment "${env}" does not exist yet: the shared state backend is created by the state-backend step`,
    `bootstrap it once with the local backend: \`AUTOLYTIQ_STATE_BACKEND=local autolytiq deploy --env ${env} --only state-backend --yes\`, then re-run`,
  )
}

/**
 * An environment's state as one JSON object in the (versioned) state bucket, so every engineer
 * sees the same progress. S3 PUT is atomic: readers see the old or the new document, never half.
 * Concurrent writers are excluded by the DynamoDB lock, not here.
 */
export class S3StateBackend implements StateBackend {
  readonly location: string
  private encryption?: Promise<SseHeaders>

  constructor(
    private readonly aws: AwsClients,
    private readonly bucket: string,
    private readonly key: string,
    private readonly env: string,
  ) {
    this.location = `s3://${bucket}/${key}`
  }

  async read(): Promise<string | undefined> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3')
    const s3 = await this.aws.s3()
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }))
      return await r.Body!.transformToString('utf8')
    } catch (err) {
      // No object (or no bucket yet, before bootstrap): no progress recorded, exactly like a missing local file.
      if (['NoSuchKey', 'NoSuchBucket', 'NotFound'].includes(awsErrorName(err))) return undefined
      throw err
    }
  }

  async write(text: string): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3')
    const s3 = await this.aws.s3()
    try {
      await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: text, ContentType: 'application/json', ...(await this.sse()) }))
    } catch (err) {
      if (awsErrorName(err) === 'NoSuchBucket') throw notBootstrapped(`state bucket ${this.bucket}`, this.env)
      throw err
    }
  }

  /**
   * The encryption headers of the bucket's own default. Writes used to force AES256, which a
   * bucket policy requiring SSE-KMS (aws:kms with the organisation's key) denies; sending the
   * bucket's default satisfies both that policy and one that merely requires a header.
   */
  private sse(): Promise<SseHeaders> {
    this.encryption ??= (async (): Promise<SseHeaders> => {
      const { GetBucketEncryptionCommand } = await import('@aws-sdk/client-s3')
      try {
        const r = await (await this.aws.s3()).send(new GetBucketEncryptionCommand({ Bucket: this.bucket }))
        const rule = r.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
        if (rule?.SSEAlgorithm === 'aws:kms' || rule?.SSEAlgorithm === 'aws:kms:dsse')
          return { ServerSideEncryption: rule.SSEAlgorithm, ...(rule.KMSMasterKeyID ? { SSEKMSKeyId: rule.KMSMasterKeyID } : {}) }
      } catch (err) {
        if (awsErrorName(err) === 'NoSuchBucket') throw notBootstrapped(`state bucket ${this.bucket}`, this.env)
        // no configuration readable: S3's own default (SSE-S3) applies
      }
      return { ServerSideEncryption: 'AES256' }
    })()
    this.encryption.catch(() => (this.encryption = undefined))
    return this.encryption
  }

  /** Keeps a copy next to the object (the bucket's versions keep every earlier one too). */
  async remove(): Promise<void> {
    const { CopyObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3')
    const s3 = await this.aws.s3()
    const text = await this.read()
    if (text === undefined) return
    await s3.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: `${this.key}.reset-${Date.now()}.bak`,
        CopySource: `${this.bucket}/${encodeURIComponent(this.key).replace(/%2F/g, '/')}`,
        ...(await this.sse()),
      }),
    )
    await s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key }))
  }
}
