/**
 * "Who" in verify's "what changed" (issue #19), per layer, against the real API server, the real
 * helm binary and moto: a name appears only where the layer records one — autolytiq's change-cause
 * on the ReplicaSet (and only for the images it was written for), the field manager of the
 * template's image for the current revision, autolytiq's Helm release description, the metadata
 * autolytiq puts on a Terraform state version it writes — and "unknown" everywhere else.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node'
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { awsConfigFor } from '../harness/moto.js'
import { watchUntil } from '../harness/kube-wait.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { catalogOf, testContext, type TestContext } from '../fixtures/verify-context.js'
import { whatChanged, type Change } from '../../src/changes/what-changed.js'
import { planUndo } from '../../src/rollback/undo.js'
import { applyChange } from '../../src/rollback/workloads.js'
import { makeCurrent, listStateVersions } from '../../src/rollback/state-versions.js'
import { helmDescription } from '../../src/steps/k8s/helm.js'

const aws = inject('aws')
const kube = inject('kube')
const helm = inject('helmPath')
const ready = Boolean(aws && kube && helm)

const suffix = randomBytes(3).toString('hex')
const ns = `who-${suffix}`
const ENV = `who-${suffix}`
const BUCKET = `who-state-${suffix}`
const RELEASE = `who-chart-${suffix}`
const ME = `${userInfo().username}@${hostname()}`

let dir: string
let t: TestContext
let kc: KubeConfig
let apps: AppsV1Api

const changes = async (): Promise<Change[]> => {
  const w = await whatChanged(t.ctx, { sinceSeconds: 3600, timeoutMs: 20_000 })
  expect(w.sources.filter((s) => !s.ok)).toEqual([])
  return w.changes
}
const revisions = (all: Change[]) =>
  Object.fromEntries(all.filter((c) => c.source === 'deployment' && c.service === 'deal-service').map((c) => [c.revision!, c.who]))

/** Waits until the controller has made the ReplicaSet of the Deployment's current template. */
async function rolledTo(image: string): Promise<void> {
  await watchUntil<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    (d) =>
      d.metadata?.name === 'deal-service' &&
      d.spec?.template.spec?.containers[0]?.image === image &&
      (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0),
    { timeoutMs: 30_000 },
  )
}

const kubectl = (...args: string[]) => execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, '-n', ns, ...args])

beforeAll(async () => {
  if (!ready) return
  dir = makeTempDir('what-changed-who')
  kc = new KubeConfig()
  kc.loadFromFile(kube!.kubeconfigPath)
  apps = kc.makeApiClient(AppsV1Api)
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } })
  const cfg = awsConfigFor(aws!.endpoint)
  const s3 = new S3Client(cfg)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }))
  t = await testContext({
    envName: ENV,
    env: {
      namespace: ns,
      kubeconfig: kube!.kubeconfigPath,
      awsEndpoint: aws!.endpoint,
      terraformState: { bucket: BUCKET, key: 'infrastructure/terraform.tfstate', lockTable: `who-lock-${suffix}` },
    },
    catalog: catalogOf(['deal-service']),
  })
}, 60_000)

afterAll(async () => {
  if (!ready) return
  await execa(helm!, ['uninstall', RELEASE, '-n', ns, '--kubeconfig', kube!.kubeconfigPath], { reject: false })
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: ns })
    .catch(() => {})
  t?.cleanup()
  if (dir) removeTempDir(dir)
})

describe.skipIf(!ready)('who, per layer', () => {
  it('Deployment rollouts: the field manager of the current image, the person of autolytiq’s change-cause, never a stale annotation', async () => {
    // k8s.deploy's way: server-side apply with field manager autolytiq.
    const manifest = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'deal-service', namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'deal-service' } },
        template: { metadata: { labels: { app: 'deal-service' } }, spec: { containers: [{ name: 'deal-service', image: 'autolytiq/deal-service:v1.0.0' }] } },
      },
    }
    await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'apply', '--server-side', '--field-manager', 'autolytiq', '-f', '-'], {
      input: JSON.stringify(manifest),
    })
    await rolledTo('autolytiq/deal-service:v1.0.0')
    expect(revisions(await changes())).toEqual({ 1: 'field manager autolytiq' })

    // An engineer with kubectl.
    await kubectl('set', 'image', 'deployment/deal-service', 'deal-service=autolytiq/deal-service:v1.0.1')
    await rolledTo('autolytiq/deal-service:v1.0.1')
    expect(revisions(await changes())).toEqual({ 1: 'unknown', 2: 'field manager kubectl-set' })

    // autolytiq rollback --service deal-service: its change-cause names the person, copied onto the re-activated ReplicaSet.
    await applyChange(t.ctx, await planUndo(t.ctx, ns, 'deal-service'))
    await rolledTo('autolytiq/deal-service:v1.0.0')
    // Revision 1 (the same ReplicaSet, before) keeps no record of its own any more.
    expect(revisions(await changes())).toEqual({ 1: 'unknown', 2: 'unknown', 3: ME })

    // kubectl again: the Deployment still carries autolytiq's change-cause (and the new ReplicaSet a copy), but it was
    // written for other images, so it is not credited to the person.
    await kubectl('set', 'image', 'deployment/deal-service', 'deal-service=autolytiq/deal-service:v1.0.2')
    await rolledTo('autolytiq/deal-service:v1.0.2')
    const rs = await apps.listNamespacedReplicaSet({ namespace: ns })
    const newest = rs.items.find((r) => r.spec?.template?.spec?.containers[0]?.image === 'autolytiq/deal-service:v1.0.2')!
    expect(newest.metadata?.annotations?.['kubernetes.io/change-cause']).toMatch(new RegExp(`^autolytiq rollback by ${ME} `))
    const all = await changes()
    expect(revisions(all)).toEqual({ 1: 'unknown', 2: 'unknown', 3: ME, 4: 'field manager kubectl-set' })
    // Newest first: the re-activated ReplicaSet's scale-down (its last write) does not put revision 3 after revision 4.
    expect(all.filter((c) => c.source === 'deployment').map((c) => c.revision)).toEqual([4, 3, 2, 1])
  }, 120_000)

  it('Helm: the person of autolytiq’s release description; a plain helm upgrade is unknown', async () => {
    const chart = join(dir, 'chart')
    mkdirSync(join(chart, 'templates'), { recursive: true })
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: who\nversion: 0.1.0\n')
    writeFileSync(join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: who-{{ .Release.Revision }}\ndata:\n  a: "1"\n')
    const base = ['upgrade', '--install', RELEASE, chart, '-n', ns, '--kubeconfig', kube!.kubeconfigPath]
    await execa(helm!, [...base, '--description', helmDescription(t.ctx, { release: RELEASE })])
    await execa(helm!, base)
    const rows = (await changes()).filter((c) => c.source === 'helm' && c.what.startsWith(`helm release ${RELEASE} `))
    expect(Object.fromEntries(rows.map((c) => [/revision (\d+)/.exec(c.what)![1], c.who]))).toEqual({ 1: ME, 2: 'unknown' })
  }, 120_000)

  it('Terraform state versions: autolytiq’s own write (rollback infra) names the person; Terraform’s writes are unknown. Secrets Manager: unknown', async () => {
    const s3 = new S3Client(awsConfigFor(aws!.endpoint))
    for (const serial of [1, 2])
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'infrastructure/terraform.tfstate', Body: JSON.stringify({ version: 4, serial }) }))
    const oldest = (await listStateVersions(t.ctx)).filter((v) => !v.deleteMarker).at(-1)!
    const restored = await makeCurrent(t.ctx, oldest.versionId)
    await new SecretsManagerClient(awsConfigFor(aws!.endpoint)).send(new CreateSecretCommand({ Name: `autolytiq/${ENV}/database`, SecretString: '{}' }))
    const all = await changes()
    const tf = all.filter((c) => c.source === 'terraform')
    expect(tf).toHaveLength(3)
    expect(tf.find((c) => c.what.includes(restored!))!.who).toBe(ME)
    expect(tf.filter((c) => !c.what.includes(restored!)).map((c) => c.who)).toEqual(['unknown', 'unknown'])
    expect(all.filter((c) => c.source === 'secrets').map((c) => c.who)).toEqual(['unknown'])
  }, 60_000)
})
