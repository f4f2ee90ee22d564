/**
 * k8s.migrate on the real Job controller: the node simulator completes Job pods, or fails them
 * when the image name contains `fail`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BatchV1Api, type KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { migrationJobName } from '../../src/steps/k8s/migrate.js'
import { k8sProject, kubeConfigFrom, openState, runSteps, seedEarlierPhases, useProject, type K8sProject } from '../helpers/k8s.js'

const kube = inject('kube')

function writeRunbook(p: K8sProject, migrate: Record<string, unknown>): void {
  const rb = {
    name: 'migrate-test',
    title: 'migrations',
    description: 'k8s.migrate alone',
    phases: [{ id: 'kubernetes', number: 5, title: 'Kubernetes deployment', steps: [{ uses: 'k8s.namespaces' }, { uses: 'k8s.migrate', with: migrate }] }],
  }
  writeFileSync(join(p.root, 'runbooks', 'migrate-test.yaml'), stringify(rb))
}

describe.skipIf(!kube)('database migration Job per release', () => {
  let project: K8sProject
  let kc: KubeConfig
  let batch: BatchV1Api

  beforeAll(async () => {
    project = k8sProject(kube!.kubeconfigPath)
    useProject(project)
    await seedEarlierPhases(project)
    kc = kubeConfigFrom(project.kubeconfig)
    batch = kc.makeApiClient(BatchV1Api)
  })

  afterAll(async () => {
    await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', project.namespace, '--wait=false'], { reject: false })
    project?.cleanup()
  })

  it('names the Job from the release', () => {
    expect(migrationJobName('v1.0.0')).toBe('db-migration-v1-0-0')
    expect(migrationJobName('v2.3.4-rc.1')).toBe('db-migration-v2-3-4-rc-1')
  })

  it('a failing migration fails the step with the pod, exit code and termination message', async () => {
    // the simulator fails Job pods whose image contains "fail"
    writeRunbook(project, { imageTag: 'v1.0.0-fail', backoffLimit: 0, timeoutSeconds: 90 })
    const report = await runSteps({ runbook: 'migrate-test' })
    expect(report.result).toBe('failed')
    expect(report.error?.step).toBe('k8s.migrate')
    const msg = report.error!.message
    expect(msg).toContain(`database migration failed:\nJob ${project.namespace}/db-migration-v1-0-0 failed (BackoffLimitExceeded)`)
    expect(msg).toMatch(/last pod db-migration-v1-0-0-\w+: exit code 1 \(Error\): simulated failure/)
    // The simulated node serves container logs (the kubelet endpoint the API server proxies to).
    expect(msg).toMatch(/ {2}logs:\n( {4}.*\n)* {4}.*simulated failure\n {4}.*exit status 1/)
    expect(report.error!.next).toMatch(/--from k8s\.migrate/)
  })

  it('after the fix, the re-run replaces the failed Job and succeeds', async () => {
    writeRunbook(project, { backoffLimit: 0, timeoutSeconds: 90 })
    const failedUid = (await batch.readNamespacedJob({ name: 'db-migration-v1-0-0', namespace: project.namespace })).metadata?.uid
    const report = await runSteps({ runbook: 'migrate-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    expect(report.steps.find((s) => s.id === 'k8s.migrate')?.outcome).toBe('changed')
    const job = await batch.readNamespacedJob({ name: 'db-migration-v1-0-0', namespace: project.namespace })
    expect(job.metadata?.uid).not.toBe(failedUid)
    expect(job.status?.succeeded).toBe(1)
    expect(job.spec?.template.spec?.containers[0]).toMatchObject({
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/deal-service:v1.0.0',
      command: ['./migrate', 'up'],
    })
    expect((await openState(project)).outputs('k8s.migrate')).toMatchObject({ job: 'db-migration-v1-0-0', release: 'v1.0.0' })
  })

  it('a release already migrated is done: no new Job, no write', async () => {
    const before = (await batch.readNamespacedJob({ name: 'db-migration-v1-0-0', namespace: project.namespace })).metadata?.resourceVersion
    const report = await runSteps({ runbook: 'migrate-test' })
    expect(report.steps.find((s) => s.id === 'k8s.migrate')).toMatchObject({ outcome: 'unchanged', detail: 'db-migration-v1-0-0 succeeded' })
    const jobs = await batch.listNamespacedJob({ namespace: project.namespace })
    expect(jobs.items.map((j) => j.metadata?.name)).toEqual(['db-migration-v1-0-0'])
    expect(jobs.items[0]!.metadata?.resourceVersion).toBe(before)
  })
})
