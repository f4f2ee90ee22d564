/**
 * Phase 5 end to end on the real control plane + node simulator: helm releases (the upstream External
 * Secrets chart, the ALB stand-in chart), namespace, secret store and ExternalSecrets synced by the real
 * operator from moto, kustomize build + server-side apply, rollouts of every
 * catalog service, migration Job, Ingress address — then a re-run that writes nothing.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, BatchV1Api, type KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { waitFor } from '../harness/wait.js'
import { REPO } from '../helpers/cli.js'
import {
  CERT_ARN,
  TF_OUTPUTS,
  k8sProject,
  kubeConfigFrom,
  openState,
  putHelmOnPath,
  resourceVersions,
  runSteps,
  seedEarlierPhases,
  seedOverlaySecrets,
  startFakeOperators,
  useProject,
  type FakeOperators,
  type K8sProject,
} from '../helpers/k8s.js'

const kube = inject('kube')
const aws = inject('aws')
const eso = inject('externalSecrets')
const helm = inject('helmPath')
const catalog = loadCatalog(REPO)

describe.skipIf(!kube || !helm || !aws || !eso)('phase 5 against the real control plane', () => {
  let project: K8sProject
  let kc: KubeConfig
  let operators: FakeOperators

  beforeAll(async () => {
    putHelmOnPath(helm)
    project = k8sProject(kube!.kubeconfigPath)
    useProject(project)
    await seedEarlierPhases(project)
    await seedOverlaySecrets(aws!.endpoint)
    kc = kubeConfigFrom(project.kubeconfig)
    operators = startFakeOperators(kc, project.namespace)
  })

  afterAll(async () => {
    operators?.stop()
    await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', project.namespace, '--wait=false'], { reject: false })
    project?.cleanup()
  })

  it('rolls every catalog service out to available and records what phase 6 needs', async () => {
    const report = await runSteps()
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    expect(report.result).toBe('succeeded')
    expect(report.steps.map((s) => [s.id, s.outcome])).toContainEqual(['k8s.deploy', 'changed'])

    const apps = kc.makeApiClient(AppsV1Api)
    const deployments = await apps.listNamespacedDeployment({ namespace: project.namespace })
    for (const svc of catalog.deployments) {
      const d = deployments.items.find((x) => x.metadata?.name === svc.name)
      expect(d, svc.name).toBeDefined()
      expect(d!.status?.availableReplicas, svc.name).toBeGreaterThanOrEqual(1)
      expect(d!.spec?.template.spec?.containers[0]?.image).toBe(`123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/${svc.name}:v1.0.0`)
    }
    const cron = await kc.makeApiClient(BatchV1Api).readNamespacedCronJob({ name: 'data-retention-service', namespace: project.namespace })
    expect(cron.spec?.jobTemplate.spec?.template.spec?.containers[0]?.image).toBe(
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/data-retention-service:v1.0.0',
    )

    const state = await openState(project)
    expect(state.outputs('k8s.ingress-address')?.hostname).toMatch(/\.elb\.amazonaws\.com$/)
    expect(state.outputs('k8s.migrate')).toMatchObject({ job: 'db-migration-v1-0-0', release: 'v1.0.0' })
    expect(Object.keys(state.outputs('k8s.rollout')?.revisions as object).sort()).toEqual(catalog.deployments.map((s) => s.name).sort())
    // the helm releases are real: values from terraform outputs, revision recorded
    const values = await execa(helm!, [
      'get',
      'values',
      'aws-load-balancer-controller',
      '-n',
      'kube-system',
      '-o',
      'json',
      '--kubeconfig',
      kube!.kubeconfigPath,
    ])
    expect(JSON.parse(values.stdout)).toMatchObject({ clusterName: 'autolytiq-local', vpcId: TF_OUTPUTS.vpc_id })
    // the ingress carries the certificate from phase 1, the repo's placeholder never reaches the cluster
    const ing = await execa(kube!.kubectlPath, [
      '--kubeconfig',
      kube!.kubeconfigPath,
      '-n',
      project.namespace,
      'get',
      'ingress',
      'autolytiq-ingress',
      '-o',
      'json',
    ])
    expect(JSON.parse(ing.stdout).metadata.annotations['alb.ingress.kubernetes.io/certificate-arn']).toBe(CERT_ARN)
    // the repo's overlay was built in a temporary copy, never edited
    expect(readFileSync(join(project.root, 'k8s/overlays/sandbox/kustomization.yaml'), 'utf8')).toBe(
      readFileSync(join(REPO, 'k8s/overlays/sandbox/kustomization.yaml'), 'utf8'),
    )
  })

  it('a re-run changes no object (resourceVersions unchanged) and reports every step done', async () => {
    const before = await resourceVersions(kc, project.namespace)
    expect(Object.keys(before).length).toBeGreaterThan(60)
    const pointsBefore = (await openState(project)).state.rollbackPoints.length
    const report = await runSteps()
    expect(report.result).toBe('succeeded')
    expect(report.steps.filter((s) => s.outcome !== 'unchanged')).toEqual([])
    expect(report.changed).toBe(0)
    const after = await resourceVersions(kc, project.namespace)
    expect(after).toEqual(before)
    // nothing ran, so no rollback point was taken either
    expect((await openState(project)).state.rollbackPoints.length).toBe(pointsBefore)
  })

  it('recovers a helm release left pending by a killed helm run, then upgrades it', async () => {
    const kubeArgs = ['--kubeconfig', kube!.kubeconfigPath]
    const history = async () =>
      JSON.parse((await execa(helm!, ['history', 'aws-load-balancer-controller', '-n', 'kube-system', '-o', 'json', ...kubeArgs])).stdout) as {
        revision: number
        status: string
      }[]
    const deployedBefore = (await history()).pop()!
    // an engineer's helm upgrade that never finishes (its pods crash-loop) and is killed
    const stuck = execa(
      helm!,
      [
        'upgrade',
        'aws-load-balancer-controller',
        join(project.root, 'k8s/sandbox-charts/aws-load-balancer-controller'),
        '-n',
        'kube-system',
        '--reuse-values',
        '--set',
        'image=public.ecr.aws/eks/aws-load-balancer-controller:v9-crash',
        '--wait',
        '--timeout',
        '5m',
        ...kubeArgs,
      ],
      { reject: false },
    )
    await waitFor('pending-upgrade', async () => (await history()).pop()?.status === 'pending-upgrade', { timeoutMs: 60_000, intervalMs: 200 })
    stuck.kill('SIGKILL')
    await stuck

    const report = await runSteps({ only: ['helm.alb-controller'] })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    expect(report.steps[0]).toMatchObject({ outcome: 'changed', detail: expect.stringContaining('pending-upgrade') })
    const after = await history()
    expect(after.pop()!.status).toBe('deployed')
    // the rollback to the last good revision is part of the history, then the upgrade
    expect(after.some((h) => h.revision > deployedBefore.revision && h.status === 'superseded')).toBe(true)
    const values = JSON.parse((await execa(helm!, ['get', 'values', 'aws-load-balancer-controller', '-n', 'kube-system', '-o', 'json', ...kubeArgs])).stdout)
    expect(values.image).toBeUndefined()
    const state = await openState(project)
    expect(state.rollbackPoints('helm.revision')[0]?.data).toMatchObject({ release: 'aws-load-balancer-controller', status: 'pending-upgrade' })
  })
})
