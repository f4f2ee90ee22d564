import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks'
import { CreateDBClusterCommand, RDSClient } from '@aws-sdk/client-rds'
import { CreateReplicationGroupCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CreateRepositoryCommand, ECRClient, PutImageCommand, PutLifecyclePolicyCommand } from '@aws-sdk/client-ecr'
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { parse, stringify } from 'yaml'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { REPO, runCli } from '../helpers/cli.js'
import { startMoto, type Moto } from '../harness/moto.js'
import { loadCatalog } from '../../src/config/catalog.js'
import { lifecyclePolicy } from '../../src/steps/aws/ecr.js'
import { awsProject, type AwsProject, type SdkConfig } from './aws-project.js'

// `autolytiq deploy --env sandbox --phase 1..4` end to end: moto for AWS (own server: ACM issues
// after 3 s instead of 60), the real terraform binary, the real control plane for the kubeconfig.
const kube = inject('kube')
const helm = inject('helmPath')
const repos = loadCatalog(REPO).services.map((s) => s.ecrRepository)
let moto: Moto

beforeAll(async () => {
  const before = process.env.MOTO_ACM_VALIDATION_WAIT
  process.env.MOTO_ACM_VALIDATION_WAIT = '3'
  try {
    moto = await startMoto()
  } finally {
    if (before === undefined) delete process.env.MOTO_ACM_VALIDATION_WAIT
    else process.env.MOTO_ACM_VALIDATION_WAIT = before
  }
})
afterAll(async () => moto?.stop())

interface Report {
  result: string
  changed: number
  unchanged: number
  steps: { id: string; phase: number; outcome: string; detail?: string; plan?: string[] }[]
  warnings: string[]
  error?: { step?: string; message: string }
}

/**
 * What the sandbox's Terraform (the platform module) creates, through the AWS APIs: this test runs
 * phase 2 on test/fixtures/terraform-outputs (terraform_data), not the platform apply, so the
 * cluster, database, cache, the eight secrets and the ECR repositories are made here.
 */
async function seedSandbox(sdk: SdkConfig): Promise<void> {
  const name = 'autolytiq-sandbox'
  await new EKSClient(sdk).send(new CreateClusterCommand({ name, roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: { subnetIds: [] } }))
  await new RDSClient(sdk).send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: name,
      Engine: 'aurora-postgresql',
      EngineVersion: '15.10',
      MasterUsername: 'autolytiq_admin',
      MasterUserPassword: 'Sandbox-0123456',
    }),
  )
  await new ElastiCacheClient(sdk).send(
    new CreateReplicationGroupCommand({
      ReplicationGroupId: name,
      ReplicationGroupDescription: name,
      Engine: 'redis',
      NumCacheClusters: 3,
      CacheNodeType: 'cache.t3.micro',
    }),
  )
  const sm = new SecretsManagerClient(sdk)
  const secrets: Record<string, object> = {
    // the fields terraform/modules/secrets writes (the secret contract)
    database: { engine: 'postgres', host: 'db', port: 5432, dbname: 'autolytiq', username: 'autolytiq_admin', password: 'Sandbox-0123456' },
    redis: { host: 'redis', port: 6379, auth_token: 'SandboxRedisToken0123456789', tls: true },
    jwt: { secret: 'SandboxJwtSecret0123456789' },
    'pii-encryption': { key: 'U2FuZGJveFBJSWtleTAxMjM0NTY3ODlhYmNkZWY=' },
    session: { secret: 'SandboxSessionSecret0123456789' },
    smtp: { host: 'REPLACE_ME', port: '587', username: 'REPLACE_ME', password: 'REPLACE_ME', from: 'REPLACE_ME' },
    resend: { api_key: 'REPLACE_ME' },
    'external-apis': { sentry_dsn: 'REPLACE_ME', datadog_api_key: '', stripe_secret_key: 'REPLACE_ME', stripe_webhook_secret: 'REPLACE_ME' },
  }
  for (const [n, v] of Object.entries(secrets)) await sm.send(new CreateSecretCommand({ Name: `autolytiq/sandbox/${n}`, SecretString: JSON.stringify(v) }))
  const ecr = new ECRClient(sdk)
  for (const repositoryName of repos) {
    await ecr.send(new CreateRepositoryCommand({ repositoryName, imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'IMMUTABLE' }))
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: JSON.stringify(lifecyclePolicy(30)) }))
  }
}

/** CI publishing the release (there is no Docker engine here): an image manifest per repository. */
async function ciPublishes(sdk: SdkConfig, tag: string): Promise<void> {
  const ecr = new ECRClient(sdk)
  for (const repositoryName of repos) {
    const imageManifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 2, digest: `sha256:${'2'.repeat(64)}` },
      layers: [],
    })
    await ecr.send(new PutImageCommand({ repositoryName, imageManifest, imageTag: tag }))
  }
}

const THIRD_PARTY = {
  AUTOLYTIQ_SECRET_SMTP_HOST: 'smtp.sandbox.test',
  AUTOLYTIQ_SECRET_SMTP_PORT: '587',
  AUTOLYTIQ_SECRET_SMTP_USERNAME: 'mailer-user',
  AUTOLYTIQ_SECRET_SMTP_PASSWORD: 'sandbox-smtp-Pw0rd',
  AUTOLYTIQ_SECRET_SMTP_FROM: 'noreply@sandbox.test',
  AUTOLYTIQ_SECRET_RESEND_API_KEY: 're_SandboxOnly0123',
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_SENTRY_DSN: 'https://k@sentry.sandbox.test/1',
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_SECRET_KEY: 'sk_test_SandboxOnly0123',
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_WEBHOOK_SECRET: 'whsec_SandboxOnly0123',
}

describe.skipIf(!kube || !helm)('deploy --env sandbox --phase 1..4', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  it(
    'dry-run lists the calls and changes nothing; the run goes to done (resuming once CI published); a re-run changes nothing',
    { timeout: 420_000 },
    async () => {
      p = await awsProject({ endpoint: moto.endpoint, runtime: { kubeconfig: kube!.kubeconfigPath } })
      const rbPath = join(p.root, 'runbooks', 'go-live.yaml')
      const rb = parse(readFileSync(rbPath, 'utf8'))
      for (const ph of rb.phases) for (const s of ph.steps) if (s.uses === 'acm.certificate') s.with = { pollSeconds: 1 }
      writeFileSync(rbPath, stringify(rb))
      await seedSandbox(p.sdk)
      // No gh (GitHub cannot be reached) and no Docker engine: CI builds the images.
      const env = {
        ...p.cliEnv,
        ...THIRD_PARTY,
        AUTOLYTIQ_SKIP_BUILD: '1',
        PATH: [dirname(helm!), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      }
      const deploy = async (...extra: string[]): Promise<{ code: number; report: Report; raw: string }> => {
        const r = await runCli(['deploy', '--env', 'sandbox', '--phase', '1..4', '--json', ...extra], env, { timeoutMs: 300_000 })
        try {
          return { code: r.code, report: JSON.parse(r.stdout) as Report, raw: r.stdout + r.stderr }
        } catch {
          throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
        }
      }

      // --dry-run: every step's exact API calls / commands, nothing created.
      const dry = await deploy('--dry-run')
      expect(dry.code, dry.raw).toBe(0)
      expect(dry.report.result).toBe('dry-run')
      const plan = (id: string): string => dry.report.steps.find((s) => s.id === id)?.plan?.join('\n') ?? ''
      expect(dry.report.steps.every((s) => (s.plan ?? []).length > 0)).toBe(true)
      expect(plan('preflight.identity')).toContain('sts GetCallerIdentity')
      expect(plan('state-backend')).toContain(`s3 CreateBucket ${p.stateBucket}`)
      expect(plan('dns.hosted-zone')).toContain(`route53 CreateHostedZone ${p.domain}`)
      expect(plan('acm.certificate')).toContain(`acm RequestCertificate ${p.apiDomain} --subject-alternative-names *.${p.domain} --validation-method DNS`)
      expect(plan('terraform.init')).toContain(`-backend-config=bucket=${p.stateBucket}`)
      expect(plan('terraform.apply')).toMatch(/terraform -chdir=.* apply -input=false .*terraform\.tfplan/)
      expect(plan('secrets.expected')).toContain('secretsmanager DescribeSecret + GetSecretValue autolytiq/sandbox/external-apis')
      expect(plan('ecr.repositories')).toContain('read-only: terraform creates them')
      await expect(new S3Client(p.sdk).send(new HeadBucketCommand({ Bucket: p.stateBucket }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } })

      // First run: everything up to the images; CI has not published the release yet.
      const first = await deploy('--yes')
      expect(first.code, first.raw).toBe(1)
      expect(first.report.error).toMatchObject({ step: 'images.verify', message: expect.stringContaining('release v1.0.0 is missing in ECR') })
      const outcomes = Object.fromEntries(first.report.steps.map((s) => [s.id, s.outcome]))
      expect(outcomes).toMatchObject({
        'preflight.tools': 'unchanged',
        'preflight.identity': 'unchanged',
        'state-backend': 'changed',
        'dns.hosted-zone': 'changed',
        'acm.certificate': 'changed',
        'terraform.tfvars': 'changed',
        'terraform.init': 'changed',
        'terraform.plan': 'checked',
        'terraform.apply': 'changed',
        'terraform.outputs': 'unchanged',
        'infra.status': 'unchanged',
        'kube.config': 'unchanged',
        'secrets.expected': 'changed',
        'ecr.repositories': 'unchanged',
        'github.setup': 'skipped',
        'images.publish': 'skipped',
        'images.verify': 'failed',
      })

      // CI publishes; the same command resumes and finishes.
      await ciPublishes(p.sdk, 'v1.0.0')
      const second = await deploy('--yes')
      expect(second.code, second.raw).toBe(0)
      expect(second.report.result).toBe('succeeded')
      expect(second.report.steps.find((s) => s.id === 'images.verify')?.outcome).toBe('unchanged')
      expect(second.report.changed).toBe(0)

      // Finished environment: nothing to do.
      const third = await deploy('--yes')
      expect(third.code, third.raw).toBe(0)
      expect(third.report.changed).toBe(0)
      expect(third.report.steps.every((s) => s.outcome === 'unchanged' || s.outcome === 'skipped')).toBe(true)
      expect(third.report.steps.find((s) => s.id === 'terraform.plan')?.detail).toBe('no changes')
    },
  )
})
