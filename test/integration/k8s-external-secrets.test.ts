/**
 * k8s.secret-store and k8s.external-secrets against the real API server with the upstream CRDs and
 * the real External Secrets Operator the harness runs (IRSA through moto's STS, Secrets Manager in
 * moto): the steps wait for what the operator reports, and fail with its reason when it cannot sync.
 */
import { writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { sandboxSecrets } from '../helpers/seed-aws.js'
import { awsConfigFor } from '../harness/moto.js'
import {
  installCrds,
  k8sProject,
  kubeConfigFrom,
  openState,
  runSteps,
  seedEarlierPhases,
  seedOverlaySecrets,
  useProject,
  type K8sProject,
} from '../helpers/k8s.js'

const kube = inject('kube')
const aws = inject('aws')
const eso = inject('externalSecrets')
const KEYS = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'PII_ENCRYPTION_KEY', 'SESSION_SECRET', 'RESEND_API_KEY', 'SENTRY_DSN']

function writeRunbook(p: K8sProject, timeoutSeconds: number): void {
  const rb = {
    name: 'secrets-test',
    title: 'secrets',
    description: 'namespace, store and ExternalSecret',
    phases: [
      {
        id: 'kubernetes',
        number: 5,
        title: 'Kubernetes deployment',
        steps: [{ uses: 'k8s.namespaces' }, { uses: 'k8s.secret-store', with: { timeoutSeconds } }, { uses: 'k8s.external-secrets', with: { timeoutSeconds } }],
      },
    ],
  }
  writeFileSync(join(p.root, 'runbooks', 'secrets-test.yaml'), stringify(rb))
}

/**
 * The project's overlay reads this environment's secrets instead of `sandbox`'s (the environment
 * label fills the remote keys), seeded with terraform's fields, `change` applied on top.
 */
async function ownSecrets(p: K8sProject, change: (values: Record<string, Record<string, unknown>>) => void): Promise<string> {
  const env = `es${randomBytes(3).toString('hex')}`
  const file = join(p.root, 'k8s', 'overlays', 'sandbox', 'kustomization.yaml')
  writeFileSync(file, readFileSync(file, 'utf8').replace('autolytiq.io/environment: sandbox', `autolytiq.io/environment: ${env}`))
  const values = sandboxSecrets({
    aws: awsConfigFor(aws!.endpoint),
    envName: env,
    clusterName: 'autolytiq-local',
    postgres: { host: 'db.test', port: 5432, user: 'autolytiq', password: 'pw', database: 'autolytiq' },
    redis: { host: 'redis.test', port: 6379, password: 'r' },
    jwtSecret: 'j',
  }) as Record<string, Record<string, unknown>>
  change(values)
  const sm = new SecretsManagerClient(awsConfigFor(aws!.endpoint))
  try {
    for (const [name, value] of Object.entries(values))
      await sm.send(new CreateSecretCommand({ Name: `autolytiq/${env}/${name}`, SecretString: JSON.stringify(value) }))
  } finally {
    sm.destroy()
  }
  return env
}

describe.skipIf(!kube || !aws || !eso)('ExternalSecrets on the real API server, synced by the real operator', () => {
  const projects: K8sProject[] = []
  let kc: KubeConfig

  beforeAll(async () => {
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
    await seedOverlaySecrets(aws!.endpoint)
    kc = kubeConfigFrom(kube!.kubeconfigPath)
  })

  afterAll(async () => {
    for (const p of projects) {
      await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', p.namespace, '--wait=false'], { reject: false })
      p.cleanup()
    }
  })

  async function project(timeoutSeconds: number): Promise<K8sProject> {
    const p = k8sProject(kube!.kubeconfigPath)
    projects.push(p)
    useProject(p)
    await seedEarlierPhases(p)
    writeRunbook(p, timeoutSeconds)
    return p
  }

  it('waits for SecretSynced and checks the Secret has every key, without reading values out', async () => {
    const p = await project(60)
    {
      const report = await runSteps({ runbook: 'secrets-test' })
      expect(report.error, JSON.stringify(report.error)).toBeUndefined()
      // the ClusterSecretStore is cluster-wide: another test may have applied the same one already
      expect(report.steps.map((s) => s.outcome)).toEqual(['changed', expect.stringMatching(/^(changed|unchanged)$/), 'changed'])
      const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'autolytiq-secrets', namespace: p.namespace })
      expect(Object.keys(secret.data ?? {}).sort()).toEqual([...KEYS].sort())
      // the values the operator wrote appear nowhere in autolytiq's records
      const values = Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString())
      const state = JSON.stringify((await openState(p)).state)
      for (const v of values) expect(state).not.toContain(v)

      const again = await runSteps({ runbook: 'secrets-test' })
      expect(again.steps.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged'])
      expect(again.steps.find((s) => s.id === 'k8s.external-secrets')?.detail).toBe('autolytiq-secrets: 7 keys synced; autolytiq-smtp: 5 keys synced')
    }
  })

  it('the remote keys are the environment’s Secrets Manager names', async () => {
    const p = projects[0]!
    const es = await execa(kube!.kubectlPath, [
      '--kubeconfig',
      kube!.kubeconfigPath,
      '-n',
      p.namespace,
      'get',
      'externalsecret',
      'autolytiq-secrets',
      '-o',
      'json',
    ])
    const spec = JSON.parse(es.stdout).spec as { data: { secretKey: string; remoteRef: { key: string } }[]; secretStoreRef: { kind: string; name: string } }
    expect(spec.secretStoreRef).toEqual({ kind: 'ClusterSecretStore', name: 'aws-secrets-manager' })
    expect([...new Set(spec.data.map((d) => d.remoteRef.key))].sort()).toEqual(
      ['database', 'external-apis', 'jwt', 'pii-encryption', 'redis', 'resend', 'session'].map((n) => `autolytiq/sandbox/${n}`),
    )
  })

  it('a secret missing from Secrets Manager: the step fails as soon as the operator reports it, naming the secret', async () => {
    const p = await project(60)
    const env = await ownSecrets(p, (v) => delete v.resend)
    const started = Date.now()
    const report = await runSteps({ runbook: 'secrets-test' })
    expect(report.result).toBe('failed')
    expect(report.error?.step).toBe('k8s.external-secrets')
    expect(report.error!.message).toContain(`ExternalSecret ${p.namespace}/autolytiq-secrets failed to sync: Ready=False (SecretSyncedError)`)
    expect(report.error!.message).toContain(`autolytiq/${env}/resend`)
    expect(report.error!.next).toMatch(/Secrets Manager \(phase 3: `autolytiq deploy --env test --phase 3`\)/)
    expect(Date.now() - started).toBeLessThan(45_000)
  })

  it('an empty value: the Secret lacks the key and verification fails naming it', async () => {
    const p = await project(60)
    await ownSecrets(p, (v) => (v.resend!.api_key = ''))
    const report = await runSteps({ runbook: 'secrets-test' })
    expect(report.result).toBe('failed')
    expect(report.error!.message).toContain('Secret autolytiq-secrets lacks RESEND_API_KEY (missing or empty)')
  })
})
