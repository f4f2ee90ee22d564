import {
  DeleteBucketEncryptionCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53'
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { awsProject, describeCalls, freshAccount, outcome, runInProcess, type AwsProject } from './aws-project.js'

// Plan phase 1 against moto: identity, the Terraform state backend, the hosted zone, and the
// certificate's refusal to start without a zone. Each test has its own moto account.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''

describe.skipIf(!aws)('phase 1 against moto', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  describe('preflight.identity', () => {
    it('passes for the configured account and records the caller without a mutating call', async () => {
      p = await awsProject({ endpoint })
      const r = await runInProcess(p, ['preflight.identity'])
      expect(r.report.result).toBe('succeeded')
      expect(outcome(r.report, 'preflight.identity')).toBe('unchanged')
      expect(describeCalls(r.calls)).toEqual(['sts.GetCallerIdentity'])
      expect(r.ctx.state.outputs('preflight.identity')).toMatchObject({ account: p.account.accountId })
      expect(r.ctx.state.state.runs.at(-1)?.awsCaller).toMatch(/^arn:aws:sts::\d{12}:assumed-role\//)
    })

    it('wrong account: exit 2 naming both accounts, and nothing is created', async () => {
      const other = await freshAccount(endpoint)
      p = await awsProject({ endpoint, account: other, environment: { accountId: '222222222222' } })
      const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'preflight.identity', '--only', 'state-backend', '--yes'], p.cliEnv)
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`signed in to AWS account ${other.accountId}`)
      expect(r.stderr).toContain('environment "sandbox" is account 222222222222; nothing was changed')
      expect(r.stdout).toMatch(/Next: switch to account 222222222222/)
      const s3 = new S3Client(p.sdk)
      await expect(s3.send(new HeadBucketCommand({ Bucket: p.stateBucket }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } })
    })

    it('every mutating step re-asserts the account, even when run alone with --only', async () => {
      const other = await freshAccount(endpoint)
      p = await awsProject({ endpoint, account: other, environment: { accountId: '222222222222' } })
      const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'state-backend', '--yes', '--json'], p.cliEnv)
      expect(r.code).toBe(2)
      expect(JSON.parse(r.stdout).error.message).toContain('is account 222222222222; nothing was changed')
      await expect(new S3Client(p.sdk).send(new HeadBucketCommand({ Bucket: p.stateBucket }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      })
    })
  })

  describe('preflight (aws.identity check)', () => {
    interface CheckJson {
      id: string
      status: string
      detail: string
    }
    const identity = (stdout: string): CheckJson | undefined => (JSON.parse(stdout).checks as CheckJson[]).find((c) => c.id === 'aws.identity')

    it('passes with the caller ARN for the configured account, fails naming both accounts otherwise', async () => {
      p = await awsProject({ endpoint })
      const ok = await runCli(['preflight', '--env', 'sandbox', '--json'], p.cliEnv)
      expect(identity(ok.stdout)).toMatchObject({ status: 'pass', detail: expect.stringContaining(`(account ${p.account.accountId})`) })

      p.cleanup()
      const other = await freshAccount(endpoint)
      p = await awsProject({ endpoint, account: other, environment: { accountId: '222222222222' } })
      const wrong = await runCli(['preflight', '--env', 'sandbox', '--json'], p.cliEnv)
      expect(wrong.code).toBe(1)
      expect(identity(wrong.stdout)).toMatchObject({ status: 'fail', detail: expect.stringContaining(`signed in to account ${other.accountId}`) })
      expect(identity(wrong.stdout)?.detail).toContain('sandbox is account 222222222222')
    })
  })

  describe('state-backend', () => {
    it('creates, then changes nothing, then repairs each drifted property', async () => {
      p = await awsProject({ endpoint })
      const s3 = new S3Client(p.sdk)
      const ddb = new DynamoDBClient(p.sdk)

      // Given nothing: the first run creates the bucket with every property, and the table.
      const first = await runInProcess(p, ['state-backend'])
      expect(first.report.result, JSON.stringify(first.report.error)).toBe('succeeded')
      expect(outcome(first.report, 'state-backend')).toBe('changed')
      expect(describeCalls(first.mutating).sort()).toEqual(
        ['dynamodb.CreateTable', 's3.CreateBucket', 's3.PutBucketEncryption', 's3.PutBucketVersioning', 's3.PutPublicAccessBlock'].sort(),
      )
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: p.stateBucket }))).Status).toBe('Enabled')
      const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: p.stateBucket }))
      expect(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256')
      expect((await s3.send(new GetPublicAccessBlockCommand({ Bucket: p.stateBucket }))).PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      })
      const table = (await ddb.send(new DescribeTableCommand({ TableName: p.lockTable }))).Table
      expect(table?.KeySchema).toEqual([{ AttributeName: 'LockID', KeyType: 'HASH' }])
      expect(table?.TableStatus).toBe('ACTIVE')

      // When run again: done, and not one mutating AWS call.
      const second = await runInProcess(p, ['state-backend'])
      expect(outcome(second.report, 'state-backend')).toBe('unchanged')
      expect(second.mutating).toEqual([])

      // When someone suspends versioning and removes encryption and the public access block: each is repaired, nothing else touched.
      await s3.send(new PutBucketVersioningCommand({ Bucket: p.stateBucket, VersioningConfiguration: { Status: 'Suspended' } }))
      await s3.send(new DeleteBucketEncryptionCommand({ Bucket: p.stateBucket }))
      await s3.send(new DeletePublicAccessBlockCommand({ Bucket: p.stateBucket }))
      const third = await runInProcess(p, ['state-backend'])
      expect(outcome(third.report, 'state-backend')).toBe('changed')
      expect(third.report.steps[0]?.detail).toMatch(/repaired drift: .*versioning is Suspended.*no default encryption.*no public access block/)
      expect(describeCalls(third.mutating).sort()).toEqual(['s3.PutBucketEncryption', 's3.PutBucketVersioning', 's3.PutPublicAccessBlock'])
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: p.stateBucket }))).Status).toBe('Enabled')

      const fourth = await runInProcess(p, ['state-backend'])
      expect(outcome(fourth.report, 'state-backend')).toBe('unchanged')
      expect(fourth.mutating).toEqual([])
    })

    it('--dry-run lists the exact API calls and changes nothing', async () => {
      p = await awsProject({ endpoint })
      const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'state-backend', '--dry-run', '--json'], p.cliEnv)
      expect(r.code, r.stderr).toBe(0)
      const step = JSON.parse(r.stdout).steps[0]
      expect(step.plan).toContain(`s3 CreateBucket ${p.stateBucket} (only if missing)`)
      expect(step.plan).toContain(`dynamodb CreateTable ${p.lockTable} LockID(S) HASH PAY_PER_REQUEST (only if missing)`)
      expect(step.detail).toContain(`would change: bucket ${p.stateBucket} does not exist`)
      await expect(new S3Client(p.sdk).send(new HeadBucketCommand({ Bucket: p.stateBucket }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      })
    })
  })

  describe('dns.hosted-zone', () => {
    it('the sandbox creates its zone without telling anyone to visit a registrar', async () => {
      p = await awsProject({ endpoint })
      const created = await runCli(['deploy', '--env', 'sandbox', '--only', 'dns.hosted-zone', '--yes'], p.cliEnv)
      expect(created.code, created.stderr).toBe(0)
      expect(created.stdout + created.stderr).not.toContain('registrar')
    })

    it('refuses to create the zone without confirmation, creates it with --yes and prints the name servers', async () => {
      // A real environment (its AWS endpoint given directly): the name servers go to the registrar.
      p = await awsProject({ endpoint, environment: { sandbox: false, awsEndpoint: endpoint } })
      const r53 = new Route53Client(p.sdk)
      const refused = await runCli(['deploy', '--env', 'sandbox', '--only', 'dns.hosted-zone'], p.cliEnv)
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain('cannot ask for confirmation')
      const zoneName = p.domain
      expect((await r53.send(new ListHostedZonesByNameCommand({ DNSName: zoneName }))).HostedZones?.filter((z) => z.Name === `${zoneName}.`)).toEqual([])

      // A new apex zone is not delegated until its name servers are set at the registrar: the step
      // says which, and fails before ACM could wait 30 minutes for a validation no resolver sees.
      const created = await runCli(['deploy', '--env', 'sandbox', '--only', 'dns.hosted-zone', '--yes'], p.cliEnv)
      expect(created.code, created.stderr).toBe(1)
      expect(created.stdout).toMatch(/set these name servers for .* at your registrar: ns-/)
      expect(created.stdout).toMatch(/FAILED at dns\.hosted-zone: hosted zone .* is not delegated/)
      const zones = (await r53.send(new ListHostedZonesByNameCommand({ DNSName: zoneName }))).HostedZones?.filter((z) => z.Name === `${zoneName}.`)
      expect(zones).toHaveLength(1)

      // Re-run before the registrar has the records: the same zone, checked again, never a second one.
      const again = await runCli(['deploy', '--env', 'sandbox', '--only', 'dns.hosted-zone', '--yes'], p.cliEnv)
      expect(again.code).toBe(1)
      expect(again.stdout).toMatch(/is not delegated/)
      expect((await r53.send(new ListHostedZonesByNameCommand({ DNSName: zoneName }))).HostedZones?.filter((z) => z.Name === `${zoneName}.`)).toHaveLength(1)
    })
  })

  describe('acm.certificate without a hosted zone', () => {
    it('exits 2 telling to create the zone, and requests no certificate', async () => {
      p = await awsProject({ endpoint })
      const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'acm.certificate', '--yes'], p.cliEnv)
      expect(r.code).toBe(2)
      expect(r.stdout).toContain(`FAILED at acm.certificate: no public Route 53 hosted zone for ${p.domain}`)
      expect(r.stdout).toContain(`Next: create it first: \`autolytiq deploy --env sandbox --only dns.hosted-zone\``)
      const certs = await new ACMClient(p.sdk).send(new ListCertificatesCommand({}))
      expect(certs.CertificateSummaryList).toEqual([])
    })
  })
})
