/**
 * `autolytiq deploy --auto-rollback` through the CLI on the real control plane: the real k8s.deploy
 * (kustomize + server-side apply of the project's manifests, recording the `k8s.workloads`
 * rollback point) and k8s.rollout (fail-fast), with a release whose deal-service image crashes.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { runCli } from '../helpers/cli.js'
import { ENV, installCrds, k8sProject, kubeConfigFrom, seedEarlierPhases, type K8sProject } from '../helpers/k8s.js'
import type { AuditEntry } from '../../src/engine/audit.js'
import { readFileSync } from 'node:fs'

const kube = inject('kube')
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq'

let p: K8sProject
let kc: KubeConfig

/** go-live reduced to the Kubernetes rollout, with this release's image tag overrides. */
function writeGoLive(imageTags: Record<string, string>, project: K8sProject = p): void {
  const rb = {
    name: 'go-live',
    title: 'go-live (Kubernetes part)',
    description: 'k8s.namespaces, k8s.deploy with image overrides, k8s.rollout',
    phases: [
      {
        id: 'kubernetes',
        number: 5,
        title: 'Kubernetes deployment',
        steps: [
          { uses: 'k8s.namespaces' },
          { uses: 'k8s.deploy', with: { imageTags, pinDigests: false } },
          { uses: 'k8s.rollout', with: { timeoutSeconds: 120 } },
        ],
      },
    ],
  }
  writeFileSync(join(project.root, 'runbooks', 'go-live.yaml'), stringify(rb))
}

/** The same, with the release's migration between the apply and the rollout wait (as in go-live: the schema moves before verification). */
function writeGoLiveWithMigration(imageTags: Record<string, string>): void {
  const rb = {
    name: 'go-live',
    title: 'go-live (Kubernetes part, with the migration)',
    description: 'k8s.namespaces, k8s.deploy with image overrides, k8s.migrate, k8s.rollout',
    phases: [
      {
        id: 'kubernetes',
        number: 5,
        title: 'Kubernetes deployment',
        steps: [
          { uses: 'k8s.namespaces' },
          { uses: 'k8s.deploy', with: { imageTags, pinDigests: false } }, // no ECR in this test: tags, not digests
          { uses: 'k8s.migrate', with: { timeoutSeconds: 120 } },
          { uses: 'k8s.rollout', with: { timeoutSeconds: 120 } },
        ],
      },
    ],
  }
  writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), stringify(rb))
}

function audit(): AuditEntry[] {
  return readFileSync(join(p.home, 'state', `${ENV}.audit.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEntry)
}

interface DeployJson {
  result: string
  runId: string
  error?: { step?: string; message: string }
  rollback?: string
}

describe.skipIf(!kube)('deploy --auto-rollback restores what the failed run changed', () => {
  beforeAll(async () => {
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
    p = k8sProject(kube!.kubeconfigPath)
    await seedEarlierPhases(p)
    kc = kubeConfigFrom(p.kubeconfig)
    writeGoLive({})
    const first = await runCli(['deploy', '--env', ENV, '--yes', '--json'], p.env, { timeoutMs: 170_000 })
    expect(first.code, first.stdout + first.stderr).toBe(0)
  }, 180_000)

  afterAll(async () => {
    if (p) await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', p.namespace, '--wait=false'], { reject: false })
    p?.cleanup()
  })

  it('a crashing release is rolled back automatically, verified, and recorded in the audit log', async () => {
    const apps = kc.makeApiClient(AppsV1Api)
    const before = await apps.readNamespacedDeployment({ name: 'deal-service', namespace: p.namespace })
    expect(before.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/deal-service:v1.0.0`)

    writeGoLive({ 'deal-service': 'v1.0.1-crash' })
    const r = await runCli(['deploy', '--env', ENV, '--yes', '--auto-rollback', '--json'], p.env, { timeoutMs: 170_000 })
    expect(r.code).toBe(1) // the deploy failed; the rollback does not hide that
    const report = JSON.parse(r.stdout) as DeployJson
    expect(report.error?.step).toBe('k8s.rollout')
    expect(report.rollback).toContain('k8s.rollout failed, so: restored and verified deal-service')
    expect(report.rollback).toContain(`${REGISTRY}/deal-service:v1.0.1-crash -> ${REGISTRY}/deal-service:v1.0.0`)

    // The cluster: deal-service back on v1.0.0 (its revision-1 template re-adopted), every pod Ready on it.
    const after = await apps.readNamespacedDeployment({ name: 'deal-service', namespace: p.namespace })
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/deal-service:v1.0.0`)
    expect(after.status?.availableReplicas).toBe(after.spec?.replicas)
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: p.namespace, labelSelector: 'app.kubernetes.io/name=deal-service' })
    const live = pods.items.filter((x) => !x.metadata?.deletionTimestamp)
    expect(live.map((x) => x.spec?.containers[0]?.image)).toEqual(live.map(() => `${REGISTRY}/deal-service:v1.0.0`))
    expect(live.every((x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))).toBe(true)

    // Audited: the automatic rollback and the restore of deal-service, in this run.
    const mine = audit().filter((e) => e.runId === report.runId)
    expect(mine.filter((e) => e.action === 'rollback.auto').map((e) => e.result)).toEqual(['started', 'ok'])
    expect(mine.filter((e) => e.action === 'rollback.restore').map((e) => `${e.step} ${e.result}`)).toEqual(['deal-service started', 'deal-service ok'])
  })

  it('without --auto-rollback the failed release stays as it is (the rollback is opt-in)', async () => {
    writeGoLive({ 'deal-service': 'v1.0.2-crash' })
    const r = await runCli(['deploy', '--env', ENV, '--yes', '--json'], p.env, { timeoutMs: 170_000 })
    expect(r.code).toBe(1)
    expect((JSON.parse(r.stdout) as DeployJson).rollback).toBeUndefined()
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'deal-service', namespace: p.namespace })
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/deal-service:v1.0.2-crash`)
  })

  it('never rolls back past a migration unasked: in CI it says so and leaves the release (#16 item 1)', async () => {
    writeGoLiveWithMigration({ 'user-service': 'v1.0.3-crash' })
    const r = await runCli(['deploy', '--env', ENV, '--yes', '--auto-rollback', '--json'], { ...p.env, CI: 'true' }, { timeoutMs: 170_000 })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    const report = JSON.parse(r.stdout) as DeployJson
    expect(report.error?.step).toBe('k8s.rollout')
    expect(report.rollback).toMatch(
      /^NOT rolled back: k8s\.migrate moved the database schema forward in this run \(Job db-migration-v1-0-0\); the previous images would run against the new schema\. Roll forward with a fix, or roll back deliberately: `autolytiq rollback --env test --service <name>` \(or deploy with --auto-rollback --rollback-past-migration\)$/,
    )
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'user-service', namespace: p.namespace })
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/user-service:v1.0.3-crash`)
    const mine = audit().filter((e) => e.runId === report.runId && e.action === 'rollback.auto')
    expect(mine.map((e) => e.result)).toEqual(['skipped'])
  })

  it('a first deploy that fails has no rollback point: a clear message, nothing changed by the rollback', async () => {
    const fresh = k8sProject(kube!.kubeconfigPath)
    try {
      await seedEarlierPhases(fresh)
      writeGoLive({ 'deal-service': 'v1.0.1-crash' }, fresh)
      const r = await runCli(['deploy', '--env', ENV, '--yes', '--auto-rollback', '--json'], fresh.env, { timeoutMs: 170_000 })
      expect(r.code).toBe(1)
      expect((JSON.parse(r.stdout) as DeployJson).rollback).toBe('nothing to roll back: k8s.rollout failed before any rollback point was recorded')
      const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'deal-service', namespace: fresh.namespace })
      expect(d.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/deal-service:v1.0.1-crash`)
    } finally {
      await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', fresh.namespace, '--wait=false'], { reject: false })
      fresh.cleanup()
    }
  })
})
