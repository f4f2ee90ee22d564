import { GetBucketEncryptionCommand, HeadObjectCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3'
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { AwsClients } from '../../src/clients/aws.js'
import { S3StateBackend } from '../../src/engine/state-s3.js'
import { awsProject, outcome, runInProcess, type AwsProject } from './aws-project.js'

// Issue #16 item 16: a state bucket encrypted with SSE-KMS (an organisation's key) was "repaired"
// down to AES256, and every state write forced AES256, which a KMS-only bucket policy denies.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''

describe.skipIf(!aws)('state bucket encryption: SSE-KMS is kept, never downgraded', () => {
  let p: AwsProject | undefined
  afterEach(() => p?.cleanup())

  it('state-backend accepts SSE-KMS as compliant (no PutBucketEncryption), and autolytiq’s state writes use the bucket’s KMS key', async () => {
    p = await awsProject({ endpoint })
    const first = await runInProcess(p, ['state-backend'])
    expect(first.report.result, JSON.stringify(first.report.steps)).toBe('succeeded')
    const s3 = new S3Client(p.sdk)
    // a new bucket gets AES256
    const initial = await s3.send(new GetBucketEncryptionCommand({ Bucket: p.stateBucket }))
    expect(initial.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256')

    // the organisation moves it to its KMS key
    // (no KMS client is a dependency; S3 records the key id as given)
    const keyArn = `arn:aws:kms:us-east-1:${p.account.accountId}:key/${randomUUID()}`
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: p.stateBucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }] },
      }),
    )
    const again = await runInProcess(p, ['state-backend'])
    expect(outcome(again.report, 'state-backend')).toBe('unchanged')
    expect(again.mutating.map((c) => `${c.service}.${c.operation}`)).toEqual([])
    const after = await s3.send(new GetBucketEncryptionCommand({ Bucket: p.stateBucket }))
    expect(after.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault).toMatchObject({
      SSEAlgorithm: 'aws:kms',
      KMSMasterKeyID: keyArn,
    })

    // autolytiq's shared state object follows the bucket's default instead of forcing AES256
    const backend = new S3StateBackend(
      new AwsClients({ region: 'us-east-1', endpoint, credentials: p.sdk.credentials }),
      p.stateBucket,
      'autolytiq/test/state.json',
      'test',
    )
    await backend.write('{"schema":1}')
    const head = await s3.send(new HeadObjectCommand({ Bucket: p.stateBucket, Key: 'autolytiq/test/state.json' }))
    expect(head.ServerSideEncryption).toBe('aws:kms')
    expect(head.SSEKMSKeyId).toBe(keyArn)
    s3.destroy()
  })
})
