import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { waitForObject, findCondition, describeCondition } from '../../k8s/wait.js'
import type { KubeObject } from '../../k8s/objects.js'
import { applyAndReport, checkObjects, planObjects } from './apply-step.js'
import { buildApp, ofKind } from './manifests.js'

const params = z.object({ timeoutSeconds: z.number().int().min(1).max(3600).default(120) }).strict()

export const ESO_GROUP = 'external-secrets.io'
export const ESO_VERSION = 'v1'

type Conditioned = KubeObject & { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }

function stores(objects: KubeObject[]): KubeObject[] {
  return ofKind(objects, 'ClusterSecretStore')
}

/** Waits for a ClusterSecretStore's Ready=True: the operator could authenticate to Secrets Manager. */
async function waitReady(ctx: Context, name: string, timeoutMs: number): Promise<void> {
  const custom = await ctx.clients.kube.custom()
  await waitForObject<Conditioned, true>(ctx.clients.kube, {
    path: `/apis/${ESO_GROUP}/${ESO_VERSION}/clustersecretstores`,
    list: (fieldSelector) => custom.listClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', fieldSelector }),
    name,
    timeoutMs,
    signal: ctx.signal,
    log: ctx.log,
    evaluate: (obj) => {
      const ready = findCondition(obj, 'Ready')
      if (ready?.status === 'True') return { done: true, value: true }
      return { done: false, progress: `ClusterSecretStore ${name}: ${describeCondition(ready)}` }
    },
    onTimeout: (last) =>
      new StepFailedError(
        `ClusterSecretStore ${name} not Ready after ${Math.round(timeoutMs / 1000)} s: ${describeCondition(findCondition(last, 'Ready'))}`,
        'check the External Secrets operator (helm.external-secrets: `kubectl -n external-secrets logs deploy/external-secrets`) and that its IRSA role may read autolytiq/* in Secrets Manager; then re-run',
      ),
  })
}

async function isReady(ctx: Context, name: string): Promise<boolean> {
  const custom = await ctx.clients.kube.custom()
  try {
    const obj = await custom.getClusterCustomObject({ group: ESO_GROUP, version: ESO_VERSION, plural: 'clustersecretstores', name })
    return findCondition(obj, 'Ready')?.status === 'True'
  } catch {
    return false
  }
}

/** Plan 5.3: the ClusterSecretStore for AWS Secrets Manager (IRSA), applied and waited for until Ready. */
export const k8sSecretStore: Step<z.infer<typeof params>> = {
  id: 'k8s.secret-store',
  title: 'Secrets Manager store (ClusterSecretStore)',
  description: 'Plan 5.3: server-side applies the ClusterSecretStore for AWS Secrets Manager (IRSA auth) and waits until the operator reports it Ready.',
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const objs = stores(await buildApp(ctx))
    return [...(await planObjects(ctx, objs)), ...objs.map((o) => `wait up to ${p.timeoutSeconds} s for ClusterSecretStore ${o.metadata.name} condition Ready=True (watch)`)]
  },
  async check(ctx) {
    const objs = stores(await buildApp(ctx))
    const applied = await checkObjects(ctx, objs)
    if (applied.status !== 'done') return applied
    for (const o of objs) if (!(await isReady(ctx, o.metadata.name))) return { status: 'todo', detail: `ClusterSecretStore ${o.metadata.name} is not Ready yet` }
    return { status: 'done', detail: `${objs.map((o) => o.metadata.name).join(', ')} Ready` }
  },
  async run(ctx, p) {
    const objs = stores(await buildApp(ctx))
    await applyAndReport(ctx, objs)
    for (const o of objs) await waitReady(ctx, o.metadata.name, p.timeoutSeconds * 1000)
    return { stores: objs.map((o) => o.metadata.name) }
  },
}
