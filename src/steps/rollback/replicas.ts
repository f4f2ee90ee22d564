import type * as k8s from '@kubernetes/client-node'
import { z } from 'zod'
import { UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { FIELD_MANAGER } from '../../k8s/api.js'
import { waitForRollouts } from '../../k8s/rollout.js'
import { deploymentOfPod, waitForPodsGone } from '../../rollback/pods-gone.js'
import { RECORD_STEP, completed, sameRollback, target } from './db-target.js'

/** Replica counts and CronJob suspension as they were before the rollback: what scale-up restores, exactly. */
export interface RecordedReplicas {
  restoredCluster: string
  namespace: string
  deployments: Record<string, number>
  cronJobs: Record<string, boolean>
}

const recordParams = z
  .object({
    /** database-clients: the catalog services that depend on PostgreSQL (the gateway and email keep serving); all: every catalog workload. */
    services: z.enum(['database-clients', 'all']).default('database-clients'),
  })
  .strict()
const waitParams = z.object({ timeoutSeconds: z.number().int().min(1).default(600) }).strict()

function recorded(ctx: Context): RecordedReplicas {
  const r = ctx.state.outputs(RECORD_STEP) as RecordedReplicas | undefined
  if (!r || !sameRollback(r as unknown as Record<string, unknown>, target(ctx)))
    throw new UserError(
      `${RECORD_STEP} has not recorded the replica counts of this rollback`,
      `run the whole runbook: \`autolytiq rollback database --env ${ctx.envName} --latest\` (or --snapshot <id>)`,
    )
  return r
}

async function workloads(ctx: Context): Promise<{ deployments: k8s.V1Deployment[]; cronJobs: k8s.V1CronJob[] }> {
  const namespace = ctx.env.namespace
  const [apps, batch] = await Promise.all([ctx.clients.kube.apps(), ctx.clients.kube.batch()])
  const [d, c] = await Promise.all([apps.listNamespacedDeployment({ namespace }), batch.listNamespacedCronJob({ namespace })])
  return { deployments: d.items, cronJobs: c.items }
}

/** What runs now, for the services the rollback stops. Read-only. */
async function currentCounts(ctx: Context, scope: 'database-clients' | 'all'): Promise<Omit<RecordedReplicas, 'restoredCluster'>> {
  const chosen = ctx.catalog.services.filter((s) => scope === 'all' || s.dependsOn.includes('postgresql'))
  const live = await workloads(ctx)
  const deployments: Record<string, number> = {}
  const cronJobs: Record<string, boolean> = {}
  for (const s of chosen) {
    if (s.kind === 'Deployment') {
      const d = live.deployments.find((x) => x.metadata?.name === s.name)
      if (d) deployments[s.name] = d.spec?.replicas ?? 1
    } else {
      const c = live.cronJobs.find((x) => x.metadata?.name === s.name)
      if (c) cronJobs[s.name] = c.spec?.suspend ?? false
    }
  }
  return { namespace: ctx.env.namespace, deployments, cronJobs }
}

/** For --dry-run: the recorded counts, or (not recorded yet) what would be recorded now. */
async function plannedCounts(ctx: Context): Promise<Omit<RecordedReplicas, 'restoredCluster'>> {
  const r = ctx.state.outputs(RECORD_STEP)
  if (sameRollback(r, target(ctx))) return r as unknown as RecordedReplicas
  return currentCounts(ctx, 'database-clients')
}

/** The plan's `kubectl scale --all --replicas=3` forgets the real counts (DESIGN.md): record them first. */
export const dbRecordReplicas: Step<z.infer<typeof recordParams>> = {
  id: RECORD_STEP,
  title: 'Record replica counts',
  description:
    'Records the replica count of every application Deployment that uses the database (and whether its CronJobs are suspended) as a rollback point, before anything is scaled: scale-up restores exactly these, not a guess.',
  danger: 'read',
  params: recordParams,
  async plan(ctx, p) {
    const c = await currentCounts(ctx, p.services)
    return [
      `record ${
        Object.entries(c.deployments)
          .map(([n, r]) => `${n}=${r}`)
          .join(', ') || 'no Deployments'
      } in ${c.namespace}`,
    ]
  },
  async check(ctx) {
    // Never re-recorded once taken: after scale-down the live counts are zeros.
    const t = target(ctx)
    const out = ctx.state.outputs(RECORD_STEP)
    if (sameRollback(out, t)) return { status: 'done', detail: `recorded: ${JSON.stringify(out?.deployments)}` }
    return { status: 'todo', detail: 'not recorded yet' }
  },
  async rollbackPoint(ctx, p) {
    return { kind: 'k8s.replica-counts', data: { ...(await currentCounts(ctx, p.services)) } }
  },
  async run(ctx, p) {
    const c = await currentCounts(ctx, p.services)
    const counts = Object.values(c.deployments)
    if (counts.length === 0) throw new UserError(`no application Deployment found in ${c.namespace}; nothing to stop`, 'is this the right environment?')
    if (counts.every((n) => n === 0))
      throw new UserError(
        `every application Deployment in ${c.namespace} is already at 0 replicas; recording 0 would leave them down after the rollback`,
        'scale them to their normal counts first (or finish the rollback that scaled them down)',
      )
    ctx.log(
      `recorded ${Object.entries(c.deployments)
        .map(([n, r]) => `${n}=${r}`)
        .join(', ')}`,
    )
    return { restoredCluster: target(ctx).restoredCluster, ...c }
  },
}

async function scaleAll(ctx: Context, deployments: Record<string, number>, cronJobs: Record<string, boolean>): Promise<void> {
  const namespace = ctx.env.namespace
  const [apps, batch, lib] = await Promise.all([ctx.clients.kube.apps(), ctx.clients.kube.batch(), ctx.clients.kube.lib()])
  const merge = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch)
  await Promise.all([
    ...Object.entries(deployments).map(([name, replicas]) =>
      apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER }, merge),
    ),
    ...Object.entries(cronJobs).map(([name, suspend]) =>
      batch.patchNamespacedCronJob({ name, namespace, body: { spec: { suspend } }, fieldManager: FIELD_MANAGER }, merge),
    ),
  ])
}

/** Plan "Database Rollback" 2: no pod may keep writing to the old database while it is replaced. */
export const dbScaleDown: Step<z.infer<typeof waitParams>> = {
  id: 'rollback.db.scale-down',
  title: 'Stop the application (scale to zero)',
  description:
    'Plan "Database Rollback" 2: scales the recorded Deployments to 0 and suspends their CronJobs, then waits until their last pod is gone, so nothing writes to the old database during the restore.',
  danger: 'mutating',
  params: waitParams,
  async plan(ctx) {
    const counts = await plannedCounts(ctx)
    return [
      ...Object.keys(counts.deployments).map((n) => `PATCH apps/v1 namespaces/${ctx.env.namespace}/deployments/${n}/scale {spec:{replicas:0}}`),
      ...Object.keys(counts.cronJobs).map((n) => `PATCH batch/v1 namespaces/${ctx.env.namespace}/cronjobs/${n} {spec:{suspend:true}}`),
      'wait until their pods are gone',
    ]
  },
  async check(ctx) {
    const t = target(ctx)
    if (completed(ctx, t) || sameRollback(ctx.state.outputs('rollback.db.scale-down'), t))
      return { status: 'done', detail: 'already scaled down for this rollback' }
    if (!sameRollback(ctx.state.outputs(RECORD_STEP), t)) return { status: 'todo', detail: 'replica counts not recorded yet' }
    const rec = recorded(ctx)
    const live = await workloads(ctx)
    const up = Object.keys(rec.deployments).filter((n) => (live.deployments.find((d) => d.metadata?.name === n)?.spec?.replicas ?? 0) > 0)
    const running = Object.keys(rec.cronJobs).filter((n) => !live.cronJobs.find((c) => c.metadata?.name === n)?.spec?.suspend)
    if (up.length || running.length) return { status: 'todo', detail: `still running: ${[...up, ...running].join(', ')}` }
    const pods = (await (await ctx.clients.kube.core()).listNamespacedPod({ namespace: rec.namespace })).items
    const left = pods.filter((pod) => Object.keys(rec.deployments).includes(deploymentOfPod(pod) ?? ''))
    if (left.length) return { status: 'todo', detail: `scaled to zero, ${left.length} pod(s) still terminating` }
    return { status: 'done', detail: 'scaled to zero, no pod left', outputs: { restoredCluster: t.restoredCluster } }
  },
  async run(ctx, p) {
    const rec = recorded(ctx)
    await scaleAll(
      ctx,
      Object.fromEntries(Object.keys(rec.deployments).map((n) => [n, 0])),
      Object.fromEntries(Object.keys(rec.cronJobs).map((n) => [n, true])),
    )
    await waitForPodsGone(ctx, rec.namespace, Object.keys(rec.deployments), { timeoutMs: p.timeoutSeconds * 1000, signal: ctx.signal, onProgress: ctx.log })
    return { restoredCluster: rec.restoredCluster }
  },
}

/** Plan "Database Rollback" 5, with the recorded counts instead of `--replicas=3`. */
export const dbScaleUp: Step<z.infer<typeof waitParams>> = {
  id: 'rollback.db.scale-up',
  title: 'Start the application at its recorded replica counts',
  description:
    'Plan "Database Rollback" 5: scales every recorded Deployment back to exactly its recorded replica count (new pods read the new DATABASE_URL), restores CronJob suspension, and waits for the rollouts with fail-fast.',
  danger: 'mutating',
  params: waitParams,
  async plan(ctx) {
    const counts = await plannedCounts(ctx)
    return [
      ...Object.entries(counts.deployments).map(([n, c]) => `PATCH apps/v1 namespaces/${ctx.env.namespace}/deployments/${n}/scale {spec:{replicas:${c}}}`),
      ...Object.entries(counts.cronJobs).map(([n, c]) => `PATCH batch/v1 namespaces/${ctx.env.namespace}/cronjobs/${n} {spec:{suspend:${c}}}`),
      `wait for the rollouts of ${Object.keys(counts.deployments).join(', ')}`,
    ]
  },
  async check(ctx) {
    const t = target(ctx)
    if (completed(ctx, t)) return { status: 'done', detail: 'rollback finished' }
    if (!sameRollback(ctx.state.outputs(RECORD_STEP), t)) return { status: 'todo', detail: 'replica counts not recorded yet' }
    if (!sameRollback(ctx.state.outputs('rollback.db.scale-down'), t)) return { status: 'todo', detail: 'not scaled down yet' }
    const rec = recorded(ctx)
    const live = await workloads(ctx)
    const off = Object.entries(rec.deployments).filter(([n, want]) => {
      const d = live.deployments.find((x) => x.metadata?.name === n)
      return d?.spec?.replicas !== want || (d.status?.availableReplicas ?? 0) < want
    })
    const suspended = Object.entries(rec.cronJobs).filter(([n, want]) => (live.cronJobs.find((c) => c.metadata?.name === n)?.spec?.suspend ?? false) !== want)
    if (off.length || suspended.length)
      return { status: 'todo', detail: `not back yet: ${[...off.map(([n, w]) => `${n} (want ${w})`), ...suspended.map(([n]) => `${n} (suspend)`)].join(', ')}` }
    return { status: 'done', detail: 'every Deployment is back at its recorded count', outputs: { restoredCluster: t.restoredCluster } }
  },
  async run(ctx, p) {
    const rec = recorded(ctx)
    await scaleAll(ctx, rec.deployments, rec.cronJobs)
    await waitForRollouts(ctx.clients.kube, {
      namespace: rec.namespace,
      deployments: Object.keys(rec.deployments),
      timeoutMs: p.timeoutSeconds * 1000,
      signal: ctx.signal,
      log: ctx.log,
    })
    return { restoredCluster: rec.restoredCluster }
  },
}
