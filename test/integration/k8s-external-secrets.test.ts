/**
 * k8s.secret-store and k8s.external-secrets against the real API server with the project's CRDs.
 * The test cluster has no External Secrets operator: where a test needs one, a stand-in writes
 * what the operator would (status conditions and the target Secret); where it does not, the
 * waits must time out with a message that says what to do.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  installCrds,
  k8sProject,
  kubeConfigFrom,
  openState,
  runSteps,
  seedEarlierPhases,
  startFakeOperators,
  useProject,
  type K8sProject,
} from '../helpers/k8s.js'

const kube = inject('kube')
const KEYS = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'PII_ENCRYPTION_KEY', 'SESSION_SECRET', 'RESEND_API_KEY']

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

describe.skipIf(!kube)('ExternalSecrets on the real API server', () => {
  const projects: K8sProject[] = []
  let kc: KubeConfig

  beforeAll(async () => {
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
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
    const ops = startFakeOperators(kc, p.namespace)
    try {
      const report = await runSteps({ runbook: 'secrets-test' })
      expect(report.error, JSON.stringify(report.error)).toBeUndefined()
      // the ClusterSecretStore is cluster-wide: another test may have applied the same one already
      expect(report.steps.map((s) => s.outcome)).toEqual(['changed', expect.stringMatching(/^(changed|unchanged)$/), 'changed'])
      const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'autolytiq-secrets', namespace: p.namespace })
      expect(Object.keys(secret.data ?? {}).sort()).toEqual([...KEYS].sort())
      // the values the stand-in operator wrote appear nowhere in autolytiq's records
      const values = Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString())
      const state = JSON.stringify((await openState(p)).state)
      for (const v of values) expect(state).not.toContain(v)

      const again = await runSteps({ runbook: 'secrets-test' })
      expect(again.steps.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged'])
      expect(again.steps.find((s) => s.id === 'k8s.external-secrets')?.detail).toBe('autolytiq-secrets: 6 keys synced')
    } finally {
      ops.stop()
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
    expect(Object.fromEntries(spec.data.map((d) => [d.secretKey, d.remoteRef.key]))).toEqual({
      DATABASE_URL: 'autolytiq/sandbox/database',
      REDIS_URL: 'autolytiq/sandbox/redis',
      JWT_SECRET: 'autolytiq/sandbox/jwt',
      PII_ENCRYPTION_KEY: 'autolytiq/sandbox/pii-encryption',
      SESSION_SECRET: 'autolytiq/sandbox/session',
      RESEND_API_KEY: 'autolytiq/sandbox/resend',
    })
  })

  it('times out with a clear message when the Secret never syncs', async () => {
    const p = await project(3)
    // the store becomes Ready, but nothing ever syncs the ExternalSecret
    const ops = startFakeOperators(kc, p.namespace, { syncSecrets: false })
    try {
      const started = Date.now()
      const report = await runSteps({ runbook: 'secrets-test' })
      expect(report.result).toBe('failed')
      expect(report.error?.step).toBe('k8s.external-secrets')
      expect(report.error!.message).toBe(
        `ExternalSecret ${p.namespace}/autolytiq-secrets did not sync within 3 s (Secret autolytiq-secrets not written): no status reported yet`,
      )
      expect(report.error!.next).toMatch(/Secrets Manager \(phase 3: `autolytiq deploy --env test --phase 3`\)/)
      expect(Date.now() - started).toBeLessThan(60_000)
    } finally {
      ops.stop()
    }
  })

  it('a synced Secret that lacks a key fails verification, naming the key', async () => {
    const p = await project(30)
    const ops = startFakeOperators(kc, p.namespace, { omitKeys: ['RESEND_API_KEY'] })
    try {
      const report = await runSteps({ runbook: 'secrets-test' })
      expect(report.result).toBe('failed')
      expect(report.error!.message).toContain('Secret autolytiq-secrets lacks RESEND_API_KEY (missing or empty)')
    } finally {
      ops.stop()
    }
  })
})
