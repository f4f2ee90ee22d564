import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Step } from '../../engine/types.js'
import { deploymentOfPod } from '../../rollback/pods-gone.js'
import { RECORD_STEP, REFRESH_STEP, VERIFY_STEP, completed, describeCluster, readDatabaseSecret, secretHost, target } from './db-target.js'
import type { RecordedReplicas } from './replicas.js'

const second = (t: Date | string | undefined): number => Math.floor(new Date(t ?? 0).getTime() / 1000)

const params = z
  .object({
    /** The Kubernetes Secret the ExternalSecret writes, and its database URL key. */
    secret: z.string().default('autolytiq-secrets'),
    secretKey: z.string().default('DATABASE_URL'),
  })
  .strict()

/**
 * The rollback's post-condition, end to end: the restored cluster is available, both copies of
 * the connection string name it, every Deployment runs exactly its recorded replica count, and
 * every one of their pods started after the new connection string was in place.
 */
export const dbVerify: Step<z.infer<typeof params>> = {
  id: VERIFY_STEP,
  title: 'Verify the application runs on the restored database',
  description:
    'Checks: restored cluster and writer available; Secrets Manager and the Kubernetes Secret both name its endpoint; every recorded Deployment has exactly its recorded replicas available, all pods started after the secret changed; CronJobs as before.',
  danger: 'read',
  params,
  async plan(ctx) {
    return [
      `read rds ${target(ctx).restoredCluster}, the database secret, Secret ${ctx.env.namespace}/autolytiq-secrets, the recorded Deployments and their pods`,
    ]
  },
  async check(ctx) {
    const t = target(ctx)
    if (completed(ctx, t)) return { status: 'done', detail: `verified at ${String(ctx.state.outputs(VERIFY_STEP)?.completedAt)}` }
    return { status: 'todo', detail: 'not verified yet' }
  },
  async run(ctx, p) {
    const t = target(ctx)
    const rec = ctx.state.outputs(RECORD_STEP) as RecordedReplicas | undefined
    const syncedAt = ctx.state.outputs(REFRESH_STEP)?.syncedAt as string | undefined
    const syncedSecond = syncedAt ? second(syncedAt) : undefined
    const problems: string[] = []
    const namespace = ctx.env.namespace

    const cluster = await describeCluster(ctx, t.restoredCluster)
    const endpoint = cluster?.Endpoint
    if (cluster?.Status !== 'available') problems.push(`${t.restoredCluster} is ${cluster?.Status ?? 'missing'}`)
    const secret = await readDatabaseSecret(ctx, t.secretId)
    if (secret.host !== endpoint) problems.push(`${t.secretId} points at ${secret.host}, not ${endpoint}`)

    const [core, apps, batch] = await Promise.all([ctx.clients.kube.core(), ctx.clients.kube.apps(), ctx.clients.kube.batch()])
    const k8sSecret = await core.readNamespacedSecret({ name: p.secret, namespace })
    const raw = k8sSecret.data?.[p.secretKey]
    const url = raw ? Buffer.from(raw, 'base64').toString('utf8') : ''
    registerSecret(url)
    if (secretHost({ url }) !== endpoint) problems.push(`Secret ${p.secret} ${p.secretKey} points at ${secretHost({ url }) ?? '(nothing)'}, not ${endpoint}`)

    const [deps, pods, crons] = await Promise.all([
      apps.listNamespacedDeployment({ namespace }).then((l) => l.items),
      core.listNamespacedPod({ namespace }).then((l) => l.items),
      batch.listNamespacedCronJob({ namespace }).then((l) => l.items),
    ])
    for (const [name, want] of Object.entries(rec?.deployments ?? {})) {
      const d = deps.find((x) => x.metadata?.name === name)
      const available = d?.status?.availableReplicas ?? 0
      if (d?.spec?.replicas !== want || available !== want) problems.push(`${name}: ${available} available of ${d?.spec?.replicas ?? 0}, recorded ${want}`)
      // creationTimestamp has second precision: only a pod from an earlier second is provably stale.
      const stale = pods.filter(
        (pod) =>
          deploymentOfPod(pod) === name &&
          !pod.metadata?.deletionTimestamp &&
          syncedSecond !== undefined &&
          second(pod.metadata?.creationTimestamp) < syncedSecond,
      )
      if (stale.length) problems.push(`${name}: pod ${stale[0]!.metadata?.name} started before the secret changed (it may hold the old DATABASE_URL)`)
    }
    for (const [name, suspended] of Object.entries(rec?.cronJobs ?? {}))
      if ((crons.find((c) => c.metadata?.name === name)?.spec?.suspend ?? false) !== suspended)
        problems.push(`CronJob ${name}: suspend is not back to ${suspended}`)

    if (problems.length)
      throw new StepFailedError(`database rollback not verified: ${problems.join('; ')}`, 'fix what is listed and re-run: finished steps are left alone')
    ctx.warn(
      `${t.sourceCluster} (the database before the rollback) is still running and still in Terraform state; delete it or import ${t.restoredCluster} into Terraform when you are sure`,
    )
    return { restoredCluster: t.restoredCluster, snapshotId: t.snapshotId, endpoint, completedAt: new Date().toISOString() }
  },
}
