/**
 * #16 item 3 on the real control plane. EKS 1.30+ has no default StorageClass and no EBS CSI
 * driver, so Prometheus's claim never binds. The sandbox now shows it: a claim binds only through
 * a StorageClass whose provisioner is installed (a CSIDriver object), a pod waits Unschedulable
 * on an unbound claim; and the runbook's k8s.storage-class applies the gp3 class once the driver
 * is there. A second node simulator (own scheduler name and nodes, volume binding on) and the
 * sandbox's EBS provisioner (limited to this test's claims) share the harness's cluster.
 */
import { randomBytes } from 'node:crypto'
import { CoreV1Api, KubeConfig, StorageV1Api, type V1PersistentVolumeClaim } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { eksNodesFor } from '../../src/sandbox/components/eks-nodes.js'
import { startNodeSimulator, type NodeSimulator } from '../../src/sandbox/components/node-simulator.js'
import { registerEbsCsiDriver, SELECTED_NODE, startEbsProvisioner } from '../../src/sandbox/controllers/ebs-provisioner.js'
import { k8sStorageClass } from '../../src/steps/k8s/storage-class.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const id = randomBytes(3).toString('hex')
const namespace = `storage-${id}`
const schedulerName = `eks-sim-${id}`
const driver = `ebs-${id}.csi.aws.com`
const className = `gp3-${id}`
const labels = { 'autolytiq.io/test': `storage-${id}` }

describe.skipIf(!kube)('claims bind only through an installed provisioner (#16 item 3)', () => {
  let kc: KubeConfig
  let core: CoreV1Api
  let storage: StorageV1Api
  let sim: NodeSimulator
  let provisioner: { stop(): void }
  const contexts: TestContext[] = []
  const nodes = eksNodesFor('us-east-1', { eks_node_desired_size: 1, eks_database_node_size: { desired: 0 } }).map((n) => ({ ...n, name: `${n.name}-${id}` }))

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    core = kc.makeApiClient(CoreV1Api)
    storage = kc.makeApiClient(StorageV1Api)
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    sim = await startNodeSimulator({ kubeConfig: kc, nodes, schedulerName, volumeBinding: true })
    provisioner = await startEbsProvisioner(kc, { log: () => {}, resyncMs: 300, labelSelector: `autolytiq.io/test=storage-${id}` })
  })
  afterAll(async () => {
    provisioner?.stop()
    await sim?.stop()
    for (const c of contexts) c.cleanup()
    await core.deleteNamespace({ name: namespace }).catch(() => {})
    await storage.deleteStorageClass({ name: className }).catch(() => {})
    await storage.deleteCSIDriver({ name: driver }).catch(() => {})
    for (const pv of (await core.listPersistentVolume()).items.filter((v) => v.spec?.csi?.driver === driver))
      await core.deletePersistentVolume({ name: pv.metadata!.name! }).catch(() => {})
    for (const n of nodes) await core.deleteNode({ name: n.name }).catch(() => {})
  })

  const pvc = (): Promise<V1PersistentVolumeClaim> => core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace })
  const pod = () => core.readNamespacedPod({ name: 'prometheus-0', namespace })

  it('Pending without a class, waiting while the provisioner is missing, Bound and running once it is installed', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: 'data', labels },
        spec: { storageClassName: className, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '50Gi' } } },
      },
    })
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'prometheus-0' },
        spec: {
          schedulerName,
          containers: [{ name: 'prometheus', image: 'prom/prometheus:v2.53.0', volumeMounts: [{ name: 'data', mountPath: '/prometheus' }] }],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
        },
      },
    })
    // 1. the class does not exist (EKS 1.30+: none): kube-scheduler's VolumeBinding message
    await expect
      .poll(async () => (await pod()).status?.conditions?.find((c) => c.type === 'PodScheduled')?.message, { timeout: 20_000 })
      .toBe(
        '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      )
    expect((await pvc()).status?.phase).toBe('Pending')

    // 2. the class exists but its provisioner is not installed: a node is chosen, no volume comes
    await storage.createStorageClass({
      body: { metadata: { name: className }, provisioner: driver, volumeBindingMode: 'WaitForFirstConsumer', parameters: { type: 'gp3' } },
    })
    await expect.poll(async () => (await pvc()).metadata?.annotations?.[SELECTED_NODE], { timeout: 20_000 }).toBe(nodes[0]!.name)
    await new Promise((r) => setTimeout(r, 1500)) // several provisioner resyncs
    expect((await pvc()).status?.phase).toBe('Pending')
    expect((await pod()).spec?.nodeName).toBeUndefined()

    // 3. the driver registers (the EBS CSI add-on): a volume of the requested size, bound, and the pod runs
    await registerEbsCsiDriver(kc, driver)
    await expect.poll(async () => (await pvc()).status?.phase, { timeout: 20_000 }).toBe('Bound')
    const pv = await core.readPersistentVolume({ name: (await pvc()).spec!.volumeName! })
    expect(pv.spec).toMatchObject({ capacity: { storage: '50Gi' }, storageClassName: className, csi: { driver } })
    await expect.poll(async () => (await pod()).status?.phase, { timeout: 20_000 }).toBe('Running')
  })

  it('k8s.storage-class waits for the EBS CSI driver, then applies the default gp3 class once', async () => {
    const t = await testContext({ env: { kubeconfig: kube!.kubeconfigPath } })
    contexts.push(t)
    const p = k8sStorageClass.params.parse({})
    const ebs = await storage.readCSIDriver({ name: 'ebs.csi.aws.com' }).catch(() => undefined)
    if (!ebs) {
      expect(await k8sStorageClass.check(t.ctx, p)).toMatchObject({
        status: 'todo',
        detail: expect.stringContaining('the CSI driver ebs.csi.aws.com is not installed'),
      })
      await expect(k8sStorageClass.run(t.ctx, p)).rejects.toThrow(/the CSI driver ebs.csi.aws.com is not installed in autolytiq-test/)
      await registerEbsCsiDriver(kc)
    }
    try {
      expect((await k8sStorageClass.check(t.ctx, p)).status).not.toBe('done')
      await k8sStorageClass.run(t.ctx, p)
      const gp3 = await storage.readStorageClass({ name: 'gp3' })
      expect(gp3).toMatchObject({ provisioner: 'ebs.csi.aws.com', volumeBindingMode: 'WaitForFirstConsumer', parameters: { type: 'gp3', encrypted: 'true' } })
      expect(gp3.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class']).toBe('true')
      expect(await k8sStorageClass.check(t.ctx, p)).toMatchObject({ status: 'done' })
    } finally {
      await storage.deleteStorageClass({ name: 'gp3' }).catch(() => {})
      if (!ebs) await storage.deleteCSIDriver({ name: 'ebs.csi.aws.com' }).catch(() => {})
    }
  })
})
