/**
 * The bad-input corpus, remote half (issue #9; the local half is test/unit/bad-input.test.ts):
 * inputs that only go wrong once AWS (moto) or Kubernetes (the real API server) is asked — unknown
 * services, revisions, snapshots, image tags and state versions, rejected credentials, endpoints
 * that do not answer, a kubeconfig that is missing or malformed — plus the flags these commands
 * validate first. Each case runs the built CLI and asserts one clear message (and the next step
 * where the product gives one), the documented exit code, no stack trace or raw SDK/HTTP dump,
 * nothing changed under AUTOLYTIQ_HOME, and AWS and Kubernetes unchanged: a snapshot of the moto
 * account (ECR, Secrets Manager, Route53, RDS, S3, DynamoDB) and of the test's namespace
 * (objects with resourceVersion, generation and images) taken before and after each case.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr'
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53'
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { REPO, runCli } from '../helpers/cli.js'
import { filesSnapshot } from '../helpers/project.js'
import { freePort } from '../harness/ports.js'
import { startMoto, type Moto } from '../harness/moto.js'
import { writeKubeconfig } from '../harness/kube.js'
import { freshAccount, sdkConfig, seedAurora, type MotoAccount, type SdkConfig } from './aws-project.js'
import { awsSnapshot, kubeSnapshot, type Snapshot } from './remote-snapshot.js'
import { deployImage, deploymentManifest, image, rollbackProject, rolledOut, type RollbackProject } from './rollback-project.js'

const kube = inject('kube')
const aws = inject('aws')
const hex = randomBytes(3).toString('hex')
const ENV = `badrem-${hex}`
const ns = `bad-remote-${hex}`
const CLUSTER = `autolytiq-${ENV}`
const SNAPSHOT = `${CLUSTER}-nightly`
const STATE_BUCKET = `autolytiq-badrem-tfstate-${hex}`
const LOCK_TABLE = `autolytiq-badrem-tflock-${hex}`
const STATE_KEY = 'infrastructure/terraform.tfstate'
/** Deployed in the namespace; inventory-service (in the catalog) deliberately is not. */
const DEPLOYED = ['api-gateway', 'auth-service', 'deal-service']

/** An access key moto has never issued, made at run time (no key-shaped literal in the repo). */
const unknownAwsKey = (): Record<string, string> => ({
  AWS_ACCESS_KEY_ID: ['AKIA', randomBytes(8).toString('hex').toUpperCase()].join(''),
  AWS_SECRET_ACCESS_KEY: randomBytes(20).toString('base64'),
})

/** What the cases point at, built once in beforeAll. */
interface Fixtures {
  account: MotoAccount
  sdk: SdkConfig
  /** A kubeconfig for the real API server with a bearer token it does not know. */
  badTokenKubeconfig: string
  /** A kubeconfig whose server is a loopback port nothing listens on. */
  closedKubeconfig: string
  /** Not YAML at all. */
  malformedKubeconfig: string
  missingKubeconfig: string
  /** An AWS endpoint nothing listens on. */
  closedAwsEndpoint: string
  /** A moto of its own whose IAM authentication is switched on for the case (the shared one accepts any key). */
  authMoto: Moto
  authSdk: SdkConfig
}

interface Case {
  name: string
  args: string[]
  /** Overrides of the sandbox runtime file (kubeconfig, awsEndpoint) the CLI reads for this environment. */
  runtime?: (fx: Fixtures) => Record<string, unknown>
  env?: (fx: Fixtures) => Record<string, string>
  /** This case talks to the moto with IAM authentication switched on (snapshotted there instead). */
  authMoto?: boolean
  code: number
  message: RegExp
  /** The "Next:" line the product gives. */
  next?: RegExp
  /** A deploy step that fails legitimately records that in the state file (this step id); nothing else may change locally. */
  recordsFailure?: string
  /** verify reports failing checks (a table on stdout), not one error: `message` must match a failing check's line. */
  report?: boolean
}

const rb = (...args: string[]): string[] => ['rollback', '--env', ENV, ...args]
const rbdb = (...args: string[]): string[] => ['rollback', 'database', '--env', ENV, ...args]
const rbinfra = (...args: string[]): string[] => ['rollback', 'infra', '--env', ENV, ...args]
const verify = (...args: string[]): string[] => ['verify', '--env', ENV, ...args]
const VALID_NAMES = /valid services: api-gateway, auth-service, deal-service, .*data-retention-service/

const CASES: Case[] = [
  // unknown names, checked against the catalog before anything is contacted
  {
    name: 'rollback: unknown service',
    args: rb('--service', 'no-such', '--yes'),
    code: 2,
    message: /unknown service "no-such"/,
    next: VALID_NAMES,
  },
  { name: 'verify: unknown service', args: verify('--service', 'no-such'), code: 2, message: /unknown service "no-such"/, next: VALID_NAMES },
  {
    name: 'rollback --image-tag: unknown service',
    args: rb('--image-tag', 'v1', '--service', 'no-such', '--yes'),
    code: 2,
    message: /unknown service "no-such"/,
    next: VALID_NAMES,
  },
  // unknown things that only the cluster or AWS can tell
  {
    name: 'rollback: unknown revision',
    args: rb('--service', 'deal-service', '--to-revision', '99', '--yes'),
    code: 2,
    message: /deal-service has no revision 99; nothing was changed/,
    next: /revisions kept \(newest first\): 2 \(.*deal-service:v2\); 1 \(.*deal-service:v1\)/,
  },
  {
    name: 'rollback: catalog service not deployed in the namespace',
    args: rb('--service', 'inventory-service', '--yes'),
    code: 2,
    message: /Deployment inventory-service not found in namespace bad-remote-\w+; nothing was changed/,
    next: /kubectl -n bad-remote-\w+ get deployments/,
  },
  {
    name: 'rollback: undo of a CronJob',
    args: rb('--service', 'data-retention-service', '--yes'),
    code: 2,
    message: /data-retention-service is a CronJob: it has no rollout history to undo/,
    next: /--image-tag <tag> --service data-retention-service/,
  },
  {
    name: 'rollback --image-tag: tag not in ECR',
    args: rb('--image-tag', 'v0.0.0-never-built', '--service', 'auth-service', '--yes'),
    code: 2,
    message: /ECR has no image autolytiq\/auth-service:v0\.0\.0-never-built \(ImageNotFoundException\); nothing was changed/,
    next: /aws ecr describe-images --repository-name autolytiq\/auth-service/,
  },
  {
    name: 'rollback database: unknown snapshot',
    args: rbdb('--snapshot', 'no-such', '--yes'),
    code: 2,
    message: /no cluster snapshot no-such; nothing was changed/,
    next: new RegExp(`snapshots of ${CLUSTER}, newest first:\\s+${SNAPSHOT} `),
  },
  {
    name: 'rollback infra: unknown state version',
    args: rbinfra('--state-version', 'no-such', '--yes', '--apply'),
    code: 2,
    message: new RegExp(`s3://${STATE_BUCKET}/infrastructure/terraform\\.tfstate has no version no-such; nothing was changed`),
    next: /versions, newest first:\s+\S+ .*\(current\)/,
  },
  // malformed or oversized values of the remote commands' flags
  {
    name: 'rollback --image-tag: invalid characters',
    args: rb('--image-tag', 'v1;rm -rf /', '--service', 'auth-service', '--yes'),
    code: 2,
    message: /"v1;rm -rf \/" is not a valid image tag/,
    next: /tags are letters, digits, _ \. -/,
  },
  {
    name: 'rollback --image-tag: oversized tag',
    args: rb('--image-tag', `v${'1'.repeat(300)}`, '--service', 'auth-service', '--yes'),
    code: 2,
    message: /is not a valid image tag/,
    next: /at most 128/,
  },
  {
    name: 'rollback: --timeout 0',
    args: rb('--service', 'deal-service', '--timeout', '0', '--yes'),
    code: 2,
    message: /Expected an integer greater than or equal to 1 but received: 0/,
    next: /autolytiq rollback --help/,
  },
  {
    name: 'verify: negative --timeout',
    args: verify('--timeout=-5'),
    code: 2,
    message: /Expected an integer greater than or equal to 1 but received: -5/,
    next: /autolytiq verify --help/,
  },
  {
    name: 'rollback: --to-revision 0',
    args: rb('--service', 'deal-service', '--to-revision', '0', '--yes'),
    code: 2,
    message: /Expected an integer greater than or equal to 1 but received: 0/,
  },
  {
    name: 'rollback: oversized --service list',
    args: rb('--image-tag', 'v1', ...Array.from({ length: 500 }, (_, i) => ['--service', `svc-${i}`]).flat(), '--yes'),
    code: 2,
    message: /unknown service "svc-0"/,
    next: VALID_NAMES,
  },
  // rejected credentials
  {
    name: 'kube: bearer token the API server rejects (rollback)',
    args: rb('--service', 'deal-service', '--yes'),
    runtime: (fx) => ({ kubeconfig: fx.badTokenKubeconfig }),
    code: 2,
    message: /the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ rejected the credentials \(401 Unauthorized\)/,
    next: /kubeconfig/,
  },
  {
    name: 'kube: bearer token the API server rejects (rollback --image-tag)',
    args: rb('--image-tag', 'v0.9.0', '--service', 'auth-service', '--yes'),
    runtime: (fx) => ({ kubeconfig: fx.badTokenKubeconfig }),
    code: 2,
    message: /the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ rejected the credentials \(401 Unauthorized\)/,
    next: /kubeconfig/,
  },
  {
    name: 'aws: access key moto rejects (rollback --image-tag, ECR)',
    args: rb('--image-tag', 'v0.9.0', '--service', 'auth-service', '--yes'),
    runtime: (fx) => ({ awsEndpoint: fx.authMoto.endpoint }),
    env: unknownAwsKey,
    authMoto: true,
    code: 2,
    // moto answers a JSON-protocol service's auth failure with an XML document the SDK cannot parse.
    message:
      /the AWS endpoint http:\/\/127\.0\.0\.1:\d+ refused ecr\.DescribeImages \(HTTP 403\) with an answer that is not an AWS error document; nothing was done/,
    next: /check the credentials \(run `aws sso login/,
  },
  {
    name: 'aws: access key moto rejects (rollback infra, S3)',
    args: rbinfra('--state-version', 'whatever', '--yes'),
    runtime: (fx) => ({ awsEndpoint: fx.authMoto.endpoint }),
    env: unknownAwsKey,
    authMoto: true,
    code: 2,
    message: /AWS rejected the credentials during s3\.ListObjectVersions: InvalidAccessKeyId \(expired or invalid\)/,
    next: /aws sso login[\s\S]*then re-run the same command/, // oclif wraps the Error block at 80 columns
  },
  {
    name: 'kube: bearer token the API server rejects (deploy --only k8s.namespaces)',
    args: ['deploy', '--env', ENV, '--only', 'k8s.namespaces', '--yes'],
    runtime: (fx) => ({ kubeconfig: fx.badTokenKubeconfig }),
    code: 2,
    message: /the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ rejected the credentials \(401 Unauthorized\)/,
    next: /kubeconfig/,
    recordsFailure: 'k8s.namespaces',
  },
  {
    name: 'kube: bearer token the API server rejects (verify)',
    args: verify('--service', 'deal-service', '--timeout', '10'),
    runtime: (fx) => ({ kubeconfig: fx.badTokenKubeconfig }),
    code: 1,
    report: true,
    message: /rejected the credentials \(401 Unauthorized\)/,
  },
  // endpoints that do not answer
  {
    name: 'aws: endpoint on a closed port (rollback --image-tag)',
    args: rb('--image-tag', 'v0.9.0', '--service', 'auth-service', '--yes'),
    runtime: (fx) => ({ awsEndpoint: fx.closedAwsEndpoint }),
    code: 1,
    message: /cannot reach the AWS endpoint http:\/\/127\.0\.0\.1:\d+ for ecr\.DescribeImages \(ECONNREFUSED\)/,
    next: /check that the local AWS endpoint is running \(`autolytiq sandbox status`\)/,
  },
  {
    name: 'aws: endpoint on a closed port (rollback database)',
    args: rbdb('--snapshot', SNAPSHOT, '--yes'),
    runtime: (fx) => ({ awsEndpoint: fx.closedAwsEndpoint }),
    code: 1,
    message: /cannot reach the AWS endpoint http:\/\/127\.0\.0\.1:\d+ for secretsmanager\.GetSecretValue \(ECONNREFUSED\)/,
    next: /check that the local AWS endpoint is running \(`autolytiq sandbox status`\)/,
  },
  {
    name: 'aws: endpoint on a closed port (rollback infra)',
    args: rbinfra('--state-version', 'whatever', '--yes'),
    runtime: (fx) => ({ awsEndpoint: fx.closedAwsEndpoint }),
    code: 1,
    message: /cannot reach the AWS endpoint http:\/\/127\.0\.0\.1:\d+ for s3\.ListObjectVersions \(ECONNREFUSED\)/,
    next: /check that the local AWS endpoint is running \(`autolytiq sandbox status`\)/,
  },
  {
    name: 'kube: API server on a closed port (rollback)',
    args: rb('--service', 'deal-service', '--yes'),
    runtime: (fx) => ({ kubeconfig: fx.closedKubeconfig }),
    code: 1,
    message: /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    next: /kubectl cluster-info/,
  },
  {
    name: 'kube: kubeconfig file missing',
    args: rb('--service', 'deal-service', '--yes'),
    runtime: (fx) => ({ kubeconfig: fx.missingKubeconfig }),
    code: 2,
    message: /cannot load kubeconfig \S+no-such-kubeconfig/,
    next: /KUBECONFIG/,
  },
  {
    name: 'kube: kubeconfig malformed',
    args: rb('--service', 'deal-service', '--yes'),
    runtime: (fx) => ({ kubeconfig: fx.malformedKubeconfig }),
    code: 2,
    message: /cannot load kubeconfig \S+malformed-kubeconfig/,
    next: /KUBECONFIG/,
  },
]

let fx: Fixtures
let seedProject: RollbackProject
const projects = new Map<string, RollbackProject>()

async function seedAws(sdk: SdkConfig): Promise<void> {
  const ecr = new ECRClient(sdk)
  const s3 = new S3Client(sdk)
  const ddb = new DynamoDBClient(sdk)
  const r53 = new Route53Client(sdk)
  try {
    for (const service of [...DEPLOYED, 'data-retention-service']) {
      const repositoryName = `autolytiq/${service}`
      await ecr.send(new CreateRepositoryCommand({ repositoryName }))
      for (const tag of ['v1', 'v2', 'v0.9.0'])
        await ecr.send(
          new PutImageCommand({
            repositoryName,
            imageTag: tag,
            imageManifest: JSON.stringify({
              schemaVersion: 2,
              mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
              config: { digest: `sha256:${service}-${tag}` },
              layers: [],
            }),
          }),
        )
    }
    await seedAurora(sdk, { cluster: CLUSTER, snapshot: SNAPSHOT, secretId: `autolytiq/${ENV}/database`, password: randomBytes(12).toString('base64url') })
    await s3.send(new CreateBucketCommand({ Bucket: STATE_BUCKET }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: STATE_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }))
    for (const serial of [1, 2])
      await s3.send(new PutObjectCommand({ Bucket: STATE_BUCKET, Key: STATE_KEY, Body: JSON.stringify({ version: 4, serial, lineage: hex, resources: [] }) }))
    await ddb.send(
      new CreateTableCommand({
        TableName: LOCK_TABLE,
        AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    await r53.send(new CreateHostedZoneCommand({ Name: 'local.autolytiq.test', CallerReference: `bad-remote-${hex}` }))
  } finally {
    for (const c of [ecr, s3, ddb, r53]) c.destroy()
  }
}

/** POST /moto-api/reset-auth: "0" makes every later request need a key IAM knows; "inf" switches it off again. */
async function motoAuth(endpoint: string, count: '0' | 'inf'): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: count })
  if (!res.ok) throw new Error(`moto reset-auth ${count}: HTTP ${res.status}`)
}

/** One case at a time on the authenticating moto: its switch is server-wide. */
let authQueue: Promise<unknown> = Promise.resolve()
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = authQueue.then(fn, fn)
  authQueue = run.catch(() => {})
  return run
}

describe.skipIf(!kube || !aws)('bad input corpus, remote half: AWS and Kubernetes asserted unchanged', () => {
  beforeAll(async () => {
    const [account, authMoto] = await Promise.all([freshAccount(aws!.endpoint), startMoto()])
    const sdk = sdkConfig(aws!.endpoint, account)
    const projectFor = (): RollbackProject =>
      rollbackProject({
        kube: kube!,
        aws: { ...aws!, accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
        envName: ENV,
        namespace: ns,
        env: { terraformState: { bucket: STATE_BUCKET, lockTable: LOCK_TABLE }, kustomizeOverlay: join(REPO, 'k8s', 'overlays', 'sandbox') },
      })
    seedProject = projectFor()
    const dir = seedProject.root
    const [closedKube, closedAws] = [await freePort(), await freePort()]
    writeKubeconfig(join(dir, 'bad-token-kubeconfig'), kube!.server, randomBytes(24).toString('hex'))
    writeKubeconfig(join(dir, 'closed-kubeconfig'), `https://127.0.0.1:${closedKube}`, kube!.token)
    writeFileSync(join(dir, 'malformed-kubeconfig'), 'apiVersion: v1\nclusters: [\n  - {name: x, cluster: {server: \n')
    fx = {
      account,
      sdk,
      badTokenKubeconfig: join(dir, 'bad-token-kubeconfig'),
      closedKubeconfig: join(dir, 'closed-kubeconfig'),
      malformedKubeconfig: join(dir, 'malformed-kubeconfig'),
      missingKubeconfig: join(dir, 'no-such-kubeconfig'),
      closedAwsEndpoint: `http://127.0.0.1:${closedAws}`,
      authMoto,
      authSdk: { ...authMoto.awsConfig() },
    }

    // AWS: the account as a deploy leaves it (images, database, secret, Terraform state with two versions, lock table, zone),
    // and the same images in the authenticating moto (while it still accepts any key).
    const p = seedProject
    await Promise.all([
      seedAws(sdk),
      seedAws(fx.authSdk),
      (async () => {
        // Kubernetes: three Deployments (deal-service with two revisions) and the CronJob.
        await p.core.createNamespace({ body: { metadata: { name: ns } } })
        for (const name of DEPLOYED) await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest(name, image(name, 'v1'), 1) })
        await p.batch.createNamespacedCronJob({
          namespace: ns,
          body: {
            metadata: { name: 'data-retention-service' },
            spec: {
              schedule: '0 3 * * *',
              jobTemplate: {
                spec: {
                  template: {
                    spec: { restartPolicy: 'Never', containers: [{ name: 'data-retention-service', image: image('data-retention-service', 'v1') }] },
                  },
                },
              },
            },
          },
        })
        await Promise.all(DEPLOYED.map((name) => rolledOut(p, name)))
        await deployImage(p, 'deal-service', image('deal-service', 'v2'))
      })(),
    ])
    for (const c of CASES) {
      const cp = projectFor()
      if (c.runtime) {
        const path = join(cp.home, 'sandbox', 'runtime.json')
        writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...c.runtime(fx) }))
      }
      projects.set(c.name, cp)
    }
  }, 180_000)

  afterAll(async () => {
    await seedProject?.core.deleteNamespace({ name: ns }).catch(() => {})
    await fx?.authMoto.stop()
    seedProject?.cleanup()
    for (const p of projects.values()) p.cleanup()
  })

  it('has at least 15 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(15))

  it.concurrent.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = projects.get(c.name)!
    const remote = async (): Promise<Snapshot> => ({
      aws: await awsSnapshot(c.authMoto ? fx.authSdk : fx.sdk),
      kube: await kubeSnapshot(seedProject.kc, ns),
    })
    const attempt = async () => {
      const local = filesSnapshot(p.home)
      const before = await remote()
      if (c.authMoto) await motoAuth(fx.authMoto.endpoint, '0')
      const t0 = Date.now()
      let r
      try {
        r = await runCli(c.args, { ...p.env, ...c.env?.(fx) }, { timeoutMs: 60_000 })
      } finally {
        if (c.authMoto) await motoAuth(fx.authMoto.endpoint, 'inf')
      }
      return { r, ms: Date.now() - t0, local, before, after: await remote() }
    }
    const { r, ms, local, before, after } = c.authMoto ? await exclusive(attempt) : await attempt()
    const text = r.stderr + r.stdout
    expect(r.code, `${c.args.join(' ').slice(0, 300)}\n(${ms} ms)\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(c.code)
    if (c.report) {
      // verify: the failing check names the problem; no error line
      expect(r.stdout.split('\n').filter((l) => c.message.test(l)).length, r.stdout).toBeGreaterThan(0)
      expect(r.stderr).not.toMatch(/^Error: /m)
    } else if (c.recordsFailure) {
      // deploy: the run report names the failed step and why, then the next step.
      const failed = r.stdout.split('\n').filter((l) => l.startsWith('FAILED at '))
      expect(failed, r.stdout).toHaveLength(1)
      expect(failed[0]).toMatch(new RegExp(`^FAILED at ${c.recordsFailure.replace(/\./g, '\\.')}: `))
      expect(failed[0]).toMatch(c.message)
      if (c.next) expect(r.stdout.split('\n').find((l) => l.startsWith('Next: '))).toMatch(c.next)
    } else {
      // One message: a single "Error:" block naming the problem, and the next step on its "Next:" line.
      expect(r.stderr.match(/^Error: /gm), r.stderr).toHaveLength(1)
      const [message = '', next = ''] = r.stderr
        .slice(r.stderr.indexOf('Error: ') + 'Error: '.length)
        .trimEnd()
        .split('\n  Next: ')
      expect(message).toMatch(c.message)
      if (c.next) expect(next).toMatch(c.next)
    }
    // No stack trace, no raw SDK or HTTP client dump, not reported as a bug.
    expect(text).not.toMatch(/\n\s+at .+[:(]\d+:\d+\)?/)
    expect(text).not.toMatch(/unexpected error|HTTP-Code|Headers: \{|\$metadata|\$fault|Deserialization error|Body: /)
    // Nothing changed: locally (but a failed deploy step's record), in AWS and in Kubernetes.
    const localAfter = filesSnapshot(p.home)
    if (c.recordsFailure) {
      const stateFile = `/state/${ENV}.json`
      const { [stateFile]: st, [`/state/${ENV}.audit.jsonl`]: _audit, ...rest } = localAfter
      expect(rest).toEqual(local)
      expect(JSON.parse(st!).steps['go-live'][c.recordsFailure].status).toBe('failed')
    } else expect(localAfter).toEqual(local)
    expect(after.aws).toEqual(before.aws)
    expect(after.kube).toEqual(before.kube)
  })
})
