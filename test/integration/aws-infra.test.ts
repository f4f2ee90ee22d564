import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks'
import { parse, stringify } from 'yaml'
import { afterEach, describe, expect, inject, it, onTestFinished } from 'vitest'
import { REPO, runCli } from '../helpers/cli.js'
import { seedAws } from '../helpers/seed-aws.js'
import { awsProject, describeCalls, outcome, runInProcess, type AwsProject, type SdkConfig } from './aws-project.js'

// Plan 2.5 and 2.7 against moto (and the real control plane for the sandbox kubeconfig).
const aws = inject('aws')
const kube = inject('kube')
const endpoint = aws?.endpoint ?? ''

/** What terraform creates in a real account (and the sandbox's Terraform on moto), seeded through the AWS APIs (test/helpers/seed-aws.ts). */
async function seedInfrastructure(sdk: SdkConfig, name: string): Promise<void> {
  await seedAws(
    {
      aws: sdk,
      envName: name.replace(/^autolytiq-/, ''),
      clusterName: name,
      postgres: { host: 'db.invalid', port: 5432, user: 'autolytiq_admin', password: randomBytes(12).toString('hex'), database: 'autolytiq' },
      redis: { host: 'redis.invalid', port: 6379, password: randomBytes(16).toString('hex') },
      jwtSecret: randomBytes(32).toString('hex'),
    },
    () => {},
  )
}

const OTHER_CONTEXT = {
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'other', cluster: { server: 'https://other.example.test' } }],
  users: [{ name: 'other', user: { token: 'other-token-keep-me' } }],
  contexts: [{ name: 'other', context: { cluster: 'other', user: 'other', namespace: 'team' } }],
  'current-context': 'other',
  preferences: {},
}

describe.skipIf(!aws)('infra.status and kube.config', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  it('infra.status: missing infrastructure fails naming each resource; once up, done without a mutating call', async () => {
    p = await awsProject({ endpoint })
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'infra.status', '--json'], p.cliEnv)
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).error).toMatchObject({
      message:
        'EKS cluster autolytiq-sandbox is missing; Aurora cluster autolytiq-sandbox is missing; ElastiCache replication group autolytiq-sandbox is missing',
      next: 'apply the infrastructure first: `autolytiq deploy --env sandbox --from terraform.plan`',
    })

    await seedInfrastructure(p.sdk, 'autolytiq-sandbox')
    const ok = await runInProcess(p, ['infra.status'])
    expect(outcome(ok.report, 'infra.status')).toBe('unchanged')
    expect(ok.report.steps[0]?.detail).toBe(
      'EKS cluster autolytiq-sandbox is ACTIVE; Aurora cluster autolytiq-sandbox is available; ElastiCache replication group autolytiq-sandbox is available',
    )
    expect(describeCalls(ok.calls).sort()).toEqual(['eks.DescribeCluster', 'elasticache.DescribeReplicationGroups', 'rds.DescribeDBClusters'])
  })

  it('kube.config: adds an autolytiq-<env> context beside the engineer’s own, leaves it alone on re-run, repairs drift', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autolytiq-kubeconfig-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const kubeconfig = join(dir, 'config')
    writeFileSync(kubeconfig, stringify(OTHER_CONTEXT), { mode: 0o600 })
    p = await awsProject({
      endpoint,
      envName: 'rehearsal',
      // A real (non-sandbox) environment whose AWS API happens to be moto.
      environment: { sandbox: false, awsEndpoint: endpoint, kubeconfig, eksCluster: 'autolytiq-rehearsal', namespace: 'autolytiq-rehearsal' },
    })
    await seedInfrastructure(p.sdk, 'autolytiq-rehearsal')
    const cluster = (await new EKSClient(p.sdk).send(new DescribeClusterCommand({ name: 'autolytiq-rehearsal' }))).cluster!

    const first = await runInProcess(p, ['kube.config'])
    expect(first.report.result, JSON.stringify(first.report.error)).toBe('succeeded')
    expect(outcome(first.report, 'kube.config')).toBe('changed')
    const written = parse(readFileSync(kubeconfig, 'utf8'))
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600)
    expect(written['current-context']).toBe('other')
    expect(written.contexts).toEqual([
      OTHER_CONTEXT.contexts[0],
      { name: 'autolytiq-rehearsal', context: { cluster: 'autolytiq-rehearsal', user: 'autolytiq-rehearsal' } },
    ])
    expect(written.users[0]).toEqual(OTHER_CONTEXT.users[0])
    expect(written.clusters[1]).toEqual({
      name: 'autolytiq-rehearsal',
      cluster: { server: cluster.endpoint, 'certificate-authority-data': cluster.certificateAuthority!.data },
    })
    // autolytiq's own token command (no aws CLI), run by absolute path from any folder
    expect(written.users[1].user.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: process.execPath,
      args: [join(REPO, 'bin', 'run.js'), 'kube-token', '--env', 'rehearsal'],
      env: [{ name: 'AUTOLYTIQ_ROOT', value: p.root }],
    })

    const second = await runInProcess(p, ['kube.config'])
    expect(outcome(second.report, 'kube.config')).toBe('unchanged')
    expect(second.mutating).toEqual([])
    expect(readFileSync(kubeconfig, 'utf8')).toBe(stringify(written))

    // Drift: someone pointed our cluster entry elsewhere.
    written.clusters[1].cluster.server = 'https://stale.example.test'
    writeFileSync(kubeconfig, stringify(written))
    const third = await runInProcess(p, ['kube.config'])
    expect(outcome(third.report, 'kube.config')).toBe('changed')
    expect(third.report.steps[0]?.detail).toBe('repaired drift: server is https://stale.example.test')
    const repaired = parse(readFileSync(kubeconfig, 'utf8'))
    expect(repaired.clusters[1].cluster.server).toBe(cluster.endpoint)
    expect(repaired.clusters[0]).toEqual(OTHER_CONTEXT.clusters[0])
  })

  it.skipIf(!kube)('kube.config in the sandbox: proves the sandbox kubeconfig reaches the control plane and records the EKS endpoint', async () => {
    p = await awsProject({ endpoint, runtime: { kubeconfig: kube!.kubeconfigPath } })
    await seedInfrastructure(p.sdk, 'autolytiq-sandbox')
    const r = await runInProcess(p, ['kube.config'])
    expect(outcome(r.report, 'kube.config')).toBe('unchanged')
    expect(r.report.steps[0]?.detail).toMatch(new RegExp(`^sandbox kubeconfig reaches ${kube!.server.replace(/[.]/g, '\\.')} \\(Kubernetes v1\\.\\d+`))
    expect(r.ctx.state.outputs('kube.config')).toMatchObject({ kubeconfig: kube!.kubeconfigPath, eksEndpoint: expect.stringMatching(/^https:\/\//) })
    expect(r.mutating).toEqual([])
  })
})
