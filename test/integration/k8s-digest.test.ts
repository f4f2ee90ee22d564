/**
 * Deploy by digest on the real control plane with ECR in moto: k8s.deploy resolves each release
 * tag to the digest ECR holds (DescribeImages) and applies repo:tag@sha256:…; the rollback point
 * records those digests; a tag ECR does not have fails before anything is applied; the node
 * simulator still reads the tag (`missing` → ImagePullBackOff) from a pinned reference.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr'
import { AppsV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { environmentStatus } from '../../src/engine/status.js'
import { renderStatus } from '../../src/render/status.js'
import { REPO } from '../helpers/cli.js'
import { installCrds, k8sProject, kubeConfigFrom, openState, runSteps, seedEarlierPhases, useProject, type K8sProject } from '../helpers/k8s.js'
import { watchUntil } from '../harness/kube-wait.js'
import { freshAccount, type MotoAccount } from './aws-project.js'

const kube = inject('kube')
const aws = inject('aws')
const catalog = loadCatalog(REPO)

function writeRunbook(p: K8sProject, imageTags: Record<string, string> = {}): void {
  const rb = {
    name: 'digest-test',
    title: 'deploy by digest',
    description: 'k8s.deploy resolving tags to ECR digests',
    phases: [{ id: 'kubernetes', number: 5, title: 'Kubernetes deployment', steps: [{ uses: 'k8s.namespaces' }, { uses: 'k8s.deploy', with: { imageTags } }] }],
  }
  writeFileSync(join(p.root, 'runbooks', 'digest-test.yaml'), stringify(rb))
}

/** What CI pushes: one small manifest per repository and tag (distinct per tag, so distinct digests). */
async function push(ecr: ECRClient, repositoryName: string, tag: string): Promise<void> {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: tag.length, digest: `sha256:${'2'.repeat(64)}` },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: repositoryName.length, digest: `sha256:${'3'.repeat(64)}` }],
  })
  await ecr.send(new PutImageCommand({ repositoryName, imageTag: tag, imageManifest: manifest }))
}

async function digestOf(ecr: ECRClient, repositoryName: string, tag: string): Promise<string> {
  const r = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: tag }] }))
  return r.imageDetails![0]!.imageDigest!
}

describe.skipIf(!kube || !aws)('k8s.deploy pins ECR digests', () => {
  let project: K8sProject
  let account: MotoAccount
  let ecr: ECRClient
  let kc: KubeConfig
  let registry: string
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }

  beforeAll(async () => {
    account = await freshAccount(aws!.endpoint)
    process.env.AWS_ACCESS_KEY_ID = account.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = account.secretAccessKey
    ecr = new ECRClient({
      endpoint: aws!.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    })
    // as terraform/modules/ecr and CI leave them
    for (const s of catalog.services) {
      await ecr.send(
        new CreateRepositoryCommand({ repositoryName: s.ecrRepository, imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true } }),
      )
      await push(ecr, s.ecrRepository, 'v1.0.0')
    }
    await push(ecr, 'autolytiq/deal-service', 'v1.0.1-missing')
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
    project = k8sProject(kube!.kubeconfigPath, { awsEndpoint: aws!.endpoint, accountId: account.accountId })
    registry = `${account.accountId}.dkr.ecr.us-east-1.amazonaws.com`
    useProject(project)
    await seedEarlierPhases(project)
    kc = kubeConfigFrom(project.kubeconfig)
  })

  afterAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = saved.id
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret
    ecr?.destroy()
    if (project)
      await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', project.namespace, '--wait=false'], { reject: false })
    project?.cleanup()
  })

  it('applies repo:tag@sha256 for every service and records the pinned images', async () => {
    writeRunbook(project)
    const report = await runSteps({ runbook: 'digest-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    const apps = kc.makeApiClient(AppsV1Api)
    for (const s of catalog.deployments) {
      const d = await apps.readNamespacedDeployment({ name: s.name, namespace: project.namespace })
      const digest = await digestOf(ecr, s.ecrRepository, 'v1.0.0')
      expect(d.spec!.template.spec!.containers[0]!.image).toBe(`${registry}/${s.ecrRepository}:v1.0.0@${digest}`)
    }
    const state = await openState(project)
    const images = state.outputs('k8s.deploy')?.images as Record<string, string>
    expect(images['api-gateway']).toMatch(new RegExp(`^${registry}/autolytiq/api-gateway:v1\\.0\\.0@sha256:[0-9a-f]{64}$`))
    // `autolytiq status` shows tag and digest of what k8s.deploy applied
    const status = await environmentStatus('test')
    const gateway = await digestOf(ecr, 'autolytiq/api-gateway', 'v1.0.0')
    expect(status.images).toContainEqual({ service: 'api-gateway', tag: 'v1.0.0', digest: gateway })
    expect(renderStatus(status)).toMatch(new RegExp(`api-gateway\\s+v1\\.0\\.0\\s+${gateway}`))
  })

  it('a tag ECR does not have fails before anything is applied, naming phase 4', async () => {
    writeRunbook(project, { 'deal-service': 'v9.9.9' })
    const apps = kc.makeApiClient(AppsV1Api)
    const before = (await apps.readNamespacedDeployment({ name: 'deal-service', namespace: project.namespace })).metadata!.resourceVersion
    const report = await runSteps({ runbook: 'digest-test' })
    expect(report.result).toBe('failed')
    expect(report.error?.message).toBe('no image in ECR for autolytiq/deal-service:v9.9.9: nothing to pin a digest to')
    expect(report.error?.next).toBe('publish the images first: `autolytiq deploy --env test --phase 4`')
    expect((await apps.readNamespacedDeployment({ name: 'deal-service', namespace: project.namespace })).metadata!.resourceVersion).toBe(before)
  })

  it('the rollback point keeps the digests; the simulator still reads the tag of a pinned image (missing → ImagePullBackOff)', async () => {
    writeRunbook(project, { 'deal-service': 'v1.0.1-missing' })
    const pulled = watchUntil<V1Pod>(
      kc,
      `/api/v1/namespaces/${project.namespace}/pods`,
      (p) => (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === 'ImagePullBackOff' && (c.image ?? '').includes('@sha256:')),
      { labelSelector: 'app.kubernetes.io/name=deal-service', timeoutMs: 90_000, what: 'deal-service ImagePullBackOff' },
    )
    const report = await runSteps({ runbook: 'digest-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    await pulled
    const state = await openState(project)
    const point = state.rollbackPoints().find((p) => p.step === 'k8s.deploy')!
    const v100 = await digestOf(ecr, 'autolytiq/deal-service', 'v1.0.0')
    expect(JSON.stringify(point.data)).toContain(`${registry}/autolytiq/deal-service:v1.0.0@${v100}`)
  })
})
