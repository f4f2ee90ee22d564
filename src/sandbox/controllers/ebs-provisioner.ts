import { createHash } from 'node:crypto'
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  StorageV1Api,
  type KubeConfig,
  type V1PersistentVolumeClaim,
  type V1StorageClass,
} from '@kubernetes/client-node'
import { startReconciler } from './reconciler.js'

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class'
export const SELECTED_NODE = 'volume.kubernetes.io/selected-node'

/**
 * Plays what binds a claim on EKS, which needs a real EBS API and a kubelet: the PV controller's
 * part (a claim without a class gets the default StorageClass retroactively; a claim is bound to
 * its volume) and the EBS CSI driver's external-provisioner (a PersistentVolume of the requested
 * size). It provisions only for a StorageClass that exists and whose provisioner has registered
 * its CSIDriver object, and, for WaitForFirstConsumer, only once the scheduler (the node
 * simulator) has picked a node — so without the runbook's StorageClass a claim stays Pending, as
 * on EKS 1.30+, which has no default class.
 */
export async function startEbsProvisioner(
  kc: KubeConfig,
  opts: { log(m: string): void; resyncMs?: number; /** only claims with these labels (tests share a cluster) */ labelSelector?: string },
): Promise<{ stop(): void }> {
  const core = kc.makeApiClient(CoreV1Api)
  const storage = kc.makeApiClient(StorageV1Api)

  const provision = async (pvc: V1PersistentVolumeClaim, classes: V1StorageClass[], drivers: Set<string>): Promise<void> => {
    const { name = '', namespace = '', uid = '' } = pvc.metadata ?? {}
    let className = pvc.spec?.storageClassName
    if (!className) {
      const fallback = classes.find((c) => c.metadata?.annotations?.[DEFAULT_CLASS] === 'true')?.metadata?.name
      if (!fallback) return // EKS 1.30+: no default class, the claim waits
      // retroactive default class assignment (Kubernetes 1.28+ PV controller)
      await core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { spec: { storageClassName: fallback } } }, mergePatch)
      className = fallback
    }
    const sc = classes.find((c) => c.metadata?.name === className)
    if (!sc || !drivers.has(sc.provisioner)) return // no such class, or its provisioner is not installed
    if (sc.volumeBindingMode === 'WaitForFirstConsumer' && !pvc.metadata?.annotations?.[SELECTED_NODE]) return
    const pvName = `pvc-${uid}`
    const size = pvc.spec?.resources?.requests?.storage ?? '1Gi'
    const accessModes = pvc.spec?.accessModes ?? ['ReadWriteOnce']
    try {
      await core.createPersistentVolume({
        body: {
          metadata: { name: pvName, annotations: { 'pv.kubernetes.io/provisioned-by': sc.provisioner } },
          spec: {
            capacity: { storage: size },
            accessModes,
            persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
            storageClassName: className,
            volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
            csi: {
              driver: sc.provisioner,
              volumeHandle: `vol-${createHash('sha256').update(uid).digest('hex').slice(0, 17)}`,
              fsType: sc.parameters?.['csi.storage.k8s.io/fstype'] ?? 'ext4',
            },
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid },
          },
        },
      })
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err
    }
    await core.patchPersistentVolumeStatus({ name: pvName, body: { status: { phase: 'Bound' } } }, mergePatch)
    await core.patchNamespacedPersistentVolumeClaim(
      {
        name,
        namespace,
        body: {
          metadata: {
            annotations: {
              'pv.kubernetes.io/bind-completed': 'yes',
              'pv.kubernetes.io/bound-by-controller': 'yes',
              'volume.kubernetes.io/storage-provisioner': sc.provisioner,
            },
          },
          spec: { volumeName: pvName },
        },
      },
      mergePatch,
    )
    await core.patchNamespacedPersistentVolumeClaimStatus(
      { name, namespace, body: { status: { phase: 'Bound', accessModes, capacity: { storage: size } } } },
      mergePatch,
    )
    opts.log(`ebs-provisioner: ${namespace}/${name} bound to ${pvName} (${size}, ${className})`)
  }

  const reconciler = startReconciler({
    name: 'ebs-provisioner',
    resyncMs: opts.resyncMs ?? 1000,
    onError: opts.log,
    keys: () => ['all'],
    async reconcile() {
      const pending = (await core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: opts.labelSelector })).items.filter(
        (p) => p.status?.phase !== 'Bound' && !p.spec?.volumeName,
      )
      if (!pending.length) return
      const [classes, drivers] = await Promise.all([storage.listStorageClass(), storage.listCSIDriver()])
      const registered = new Set(drivers.items.map((d) => d.metadata?.name ?? ''))
      for (const pvc of pending) await provision(pvc, classes.items, registered)
    },
  })
  reconciler.enqueue('all')
  return { stop: () => reconciler.stop() }
}

/**
 * The CSIDriver object the EKS aws-ebs-csi-driver add-on registers. Terraform creates the add-on
 * (with its IRSA role); the sandbox's Terraform has the add-ons off (eks_addons: moto has no
 * CreateAddon), so `sandbox up` registers it. The StorageClass stays the runbook's job.
 */
export async function registerEbsCsiDriver(kc: KubeConfig, name = 'ebs.csi.aws.com'): Promise<void> {
  try {
    await kc.makeApiClient(StorageV1Api).createCSIDriver({
      body: {
        metadata: { name, labels: { 'app.kubernetes.io/name': 'aws-ebs-csi-driver' } },
        spec: { attachRequired: true, podInfoOnMount: false, fsGroupPolicy: 'File' },
      },
    })
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err
  }
}
