import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { parse, stringify } from 'yaml'
import { afterEach, describe, expect, inject, it, onTestFinished } from 'vitest'
import { AwsClients } from '../../src/clients/aws.js'
import { eksToken, urlFromToken } from '../../src/clients/eks-token.js'
import { KubeClients } from '../../src/clients/kube.js'
import { runCli } from '../helpers/cli.js'
import { seedAws } from '../helpers/seed-aws.js'
import { awsProject, runInProcess, type AwsProject } from './aws-project.js'

// Issue #16 items 7 and 4. The harness' kube-apiserver authenticates IAM identities as EKS does
// (src/sandbox/components/eks-authenticator.ts): a k8s-aws-v1 token checked against moto's STS,
// then an access entry — the cluster creator or `eks_access_entries` of the sandbox environment
// in autolytiq.yaml (cd: role/autolytiq-cd-sandbox, oncall: role/autolytiq-oncall-sandbox).
const aws = inject('aws')
const kube = inject('kube')
const endpoint = aws?.endpoint ?? ''
const SANDBOX_ACCOUNT = '123456789012'

async function roleCredentials(role: string): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const sts = new STSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  const r = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:role/${role}`, RoleSessionName: `${role}-session` }))
  sts.destroy()
  return { accessKeyId: r.Credentials!.AccessKeyId!, secretAccessKey: r.Credentials!.SecretAccessKey!, sessionToken: r.Credentials!.SessionToken! }
}

/** PATH without any directory that holds an `aws` executable: a laptop without the aws CLI. */
const pathWithoutAws = (): string =>
  (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d && !existsSync(join(d, 'aws')))
    .join(delimiter)

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'autolytiq-eks-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A kubeconfig whose only user is `user`, for the harness' API server. */
function kubeconfigFor(path: string, user: Record<string, unknown>): void {
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'autolytiq-rehearsal', cluster: { server: kube!.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'autolytiq-rehearsal', user }],
      contexts: [{ name: 'autolytiq-rehearsal', context: { cluster: 'autolytiq-rehearsal', user: 'autolytiq-rehearsal' } }],
      'current-context': 'autolytiq-rehearsal',
    }),
    { mode: 0o600 },
  )
}

function kubectl(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(kube!.kubectlPath, args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
}

describe.skipIf(!aws || !kube)('EKS tokens without the aws CLI, and access entries', () => {
  let p: AwsProject | undefined
  afterEach(() => p?.cleanup())

  it('kube.config writes an exec entry kubectl can run without the aws CLI; preflight fails an `aws eks get-token` entry where aws is missing', async () => {
    const dir = tempDir()
    const kubeconfig = join(dir, 'config')
    p = await awsProject({
      endpoint,
      envName: 'rehearsal',
      environment: { sandbox: false, awsEndpoint: endpoint, kubeconfig, eksCluster: 'autolytiq-rehearsal', namespace: 'autolytiq-rehearsal' },
    })
    await seedAws(
      {
        aws: p.sdk,
        envName: 'rehearsal',
        clusterName: 'autolytiq-rehearsal',
        postgres: { host: 'db.invalid', port: 5432, user: 'u', password: 'p4ssw0rd-not-used', database: 'autolytiq' },
        redis: { host: 'redis.invalid', port: 6379, password: 'r3dis-not-used' },
        jwtSecret: 'j'.repeat(64),
      },
      () => {},
    )
    // the kubeconfig `aws eks update-kubeconfig` would have written
    kubeconfigFor(kubeconfig, {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'aws',
        args: ['--region', 'us-east-1', 'eks', 'get-token', '--cluster-name', 'autolytiq-rehearsal'],
      },
    })
    const noAws = { ...p.cliEnv, PATH: pathWithoutAws() }
    const pre = await runCli(['preflight', '--env', 'rehearsal', '--json'], noAws)
    const check = (JSON.parse(pre.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.find((c) => c.id === 'kube.credentials')
    expect(check?.status, pre.stdout).toBe('fail')
    expect(check?.detail).toContain('runs `aws`, which is not installed here')
    expect(check?.detail).toContain('`autolytiq deploy --env rehearsal --only kube.config`')

    const r = await runInProcess(p, ['kube.config'])
    expect(r.report.result, JSON.stringify(r.report.steps)).toBe('succeeded')
    expect(r.report.steps[0]?.detail).toContain('user runs `aws eks get-token` (needs the aws CLI)')
    const user = (parse(readFileSync(kubeconfig, 'utf8')) as { users: { name: string; user: { exec: Record<string, unknown> } }[] }).users.find(
      (u) => u.name === 'autolytiq-rehearsal',
    )!.user
    expect(user.exec).toMatchObject({ command: process.execPath, args: [expect.stringMatching(/bin\/run\.js$/), 'kube-token', '--env', 'rehearsal'] })
    const after = await runCli(['preflight', '--env', 'rehearsal', '--json'], noAws)
    expect((JSON.parse(after.stdout) as { checks: { id: string; status: string }[] }).checks.find((c) => c.id === 'kube.credentials')?.status).toBe('pass')

    // kubectl, with no aws on PATH, runs that entry from another folder and reaches the API
    // server as the CD role (an access entry of the configuration)
    const cd = await roleCredentials('autolytiq-cd-sandbox')
    const forKubectl = join(dir, 'kubectl-config')
    kubeconfigFor(forKubectl, { exec: user.exec })
    const env = {
      PATH: pathWithoutAws(),
      HOME: dir,
      AWS_ACCESS_KEY_ID: cd.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cd.secretAccessKey,
      AWS_SESSION_TOKEN: cd.sessionToken,
      AWS_EC2_METADATA_DISABLED: 'true',
      AUTOLYTIQ_HOME: p.home,
      KUBECONFIG: forKubectl,
    }
    const ok = await kubectl(['get', 'namespace', 'default', '-o', 'name'], env)
    expect(ok.stderr).toBe('')
    expect(ok.stdout.trim()).toBe('namespace/default')
  })

  it('the kube client mints the token in-process: the CD and on-call roles get in; an unknown role gets 401 naming it and the next step', async () => {
    const dir = tempDir()
    const kubeconfig = join(dir, 'config')
    // an `aws eks get-token` entry: autolytiq must not run it (there is no aws on this PATH either way)
    kubeconfigFor(kubeconfig, {
      exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws', args: ['eks', 'get-token', '--cluster-name', 'autolytiq-sandbox'] },
    })
    const client = async (role: string) => {
      const creds = await roleCredentials(role)
      const awsClients = new AwsClients({ region: 'us-east-1', endpoint, credentials: creds })
      return new KubeClients({
        kubeconfig,
        context: 'autolytiq-rehearsal',
        eksToken: () => eksToken(awsClients, 'autolytiq-sandbox'),
        eks: { whoami: async () => `arn:aws:iam::${SANDBOX_ACCOUNT}:role/${role}`, cluster: 'autolytiq-sandbox', envName: 'sandbox' },
      })
    }
    for (const role of ['autolytiq-cd-sandbox', 'autolytiq-oncall-sandbox']) {
      const core = await (await client(role)).core()
      expect((await core.readNamespace({ name: 'default' })).metadata?.name).toBe('default')
    }

    const stranger = await (await client('someone-else')).core()
    const err = (await stranger.readNamespace({ name: 'default' }).catch((e: unknown) => e)) as Error & { next?: string }
    expect(err.message).toBe(
      `the EKS cluster autolytiq-sandbox at ${kube!.server} does not accept arn:aws:iam::${SANDBOX_ACCOUNT}:role/someone-else (401 Unauthorized): it has no access entry for that IAM principal; nothing was changed`,
    )
    expect(err.next).toContain('add it to eks_access_entries under environments.sandbox.terraformVars in autolytiq.yaml')

    // the token is what `aws eks get-token` makes: a presigned STS GetCallerIdentity URL, 60 s, x-k8s-aws-id signed
    const url = new URL(urlFromToken((await eksToken(new AwsClients({ region: 'us-east-1', credentials: await roleCredentials('x') }), 'c')).token)!)
    expect(url.host).toBe('sts.us-east-1.amazonaws.com')
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    })
  })
})
