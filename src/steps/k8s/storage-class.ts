import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { CheckResult, Context, Step } from '../../engine/types.js'
import { apiStatus } from '../../k8s/api.js'
import { parseManifests, type KubeObject } from '../../k8s/objects.js'
import { applyAndReport, checkObjects, planObjects } from './apply-step.js'

const params = z.object({ manifest: z.string().default('k8s/storage/gp3.yaml') }).strict()
type Params = z.infer<typeof params>

/** The CSI driver the EBS CSI add-on registers (terraform installs the add-on and its IRSA role). */
export const EBS_CSI_DRIVER = 'ebs.csi.aws.com'

function storageClasses(ctx: Context, p: Params): KubeObject[] {
  return parseManifests(readFileSync(join(ctx.root, p.manifest), 'utf8'), p.manifest).filter((o) => o.kind === 'StorageClass')
}

/** Is the provisioner of every StorageClass registered in the cluster (its CSIDriver object)? */
async function missingDrivers(ctx: Context, classes: KubeObject[]): Promise<string[]> {
  const api = await ctx.clients.kube.objects()
  const drivers = [...new Set(classes.map((c) => String((c as { provisioner?: string }).provisioner)))]
  const missing: string[] = []
  for (const name of drivers)
    try {
      await api.read({ apiVersion: 'storage.k8s.io/v1', kind: 'CSIDriver', metadata: { name } })
    } catch (err) {
      if (apiStatus(err) !== 404) throw err
      missing.push(name)
    }
  return missing
}

const noDriver = (ctx: Context, missing: string[]): string =>
  `the CSI driver ${missing.join(', ')} is not installed in ${ctx.env.eksCluster}: the EBS CSI driver add-on (aws-ebs-csi-driver, with its IRSA role) comes from terraform`

/**
 * EKS 1.30+ has no default StorageClass and ships no EBS CSI driver: without both, a claim (Prometheus's
 * 50Gi) stays Pending forever and monitoring.deploy waits out its deadline. Once the add-on has
 * registered its CSIDriver, this applies the gp3 StorageClass (default, encrypted,
 * WaitForFirstConsumer) from k8s/storage/.
 */
export const k8sStorageClass: Step<Params> = {
  id: 'k8s.storage-class',
  title: 'Default gp3 StorageClass (EBS CSI driver)',
  description:
    'EKS 1.30+ has no default StorageClass: checks that the EBS CSI driver add-on registered ebs.csi.aws.com (a CSIDriver), then server-side applies the default gp3 StorageClass of k8s/storage/ so claims (Prometheus 50Gi) bind.',
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const classes = storageClasses(ctx, p)
    return [`GET storage.k8s.io/v1 CSIDriver ${EBS_CSI_DRIVER} (the EBS CSI add-on)`, ...(await planObjects(ctx, classes))]
  },
  async check(ctx, p): Promise<CheckResult> {
    const classes = storageClasses(ctx, p)
    const missing = await missingDrivers(ctx, classes)
    if (missing.length) return { status: 'todo', detail: noDriver(ctx, missing) }
    return checkObjects(ctx, classes)
  },
  async run(ctx, p) {
    const classes = storageClasses(ctx, p)
    const missing = await missingDrivers(ctx, classes)
    if (missing.length)
      throw new StepFailedError(
        noDriver(ctx, missing),
        `apply terraform with the add-on (\`autolytiq deploy --env ${ctx.envName} --from terraform.plan\`), check it with \`aws eks describe-addon --cluster-name ${ctx.env.eksCluster} --addon-name aws-ebs-csi-driver\`, then re-run`,
      )
    const r = await applyAndReport(ctx, classes)
    return { storageClasses: classes.map((c) => c.metadata.name), created: r.created, updated: r.updated }
  },
}
