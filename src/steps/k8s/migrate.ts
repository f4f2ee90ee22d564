import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { parse } from 'yaml'
import { z } from 'zod'
import { ExternalError, StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { FIELD_MANAGER, apiMessage, isNotFound } from '../../k8s/api.js'
import { ecrRegistry } from '../../k8s/inputs.js'
import { lastLogs } from '../../k8s/pods.js'
import { findCondition, waitForObject } from '../../k8s/wait.js'

const params = z
  .object({
    /** The service whose image carries the migrations (the plan uses deal-service). */
    service: z.string().default('deal-service'),
    /** Image tag instead of the release's. */
    imageTag: z.string().optional(),
    registry: z.string().optional(),
    /** Retries of a failed migration pod before the Job fails (the plan: 3). */
    backoffLimit: z.number().int().min(0).max(10).optional(),
    timeoutSeconds: z.number().int().min(10).max(7200).default(1800),
  })
  .strict()
type Params = z.infer<typeof params>

const TEMPLATE = join('k8s', 'jobs', 'db-migration.yaml')

/** db-migration-v1-2-0: one Job per release, so "this release already migrated" is a lookup. */
export function migrationJobName(release: string): string {
  return `db-migration-${release.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 63).replace(/-+$/, '')
}

function migrationJob(ctx: Context, p: Params): V1Job {
  const service = ctx.catalog.get(p.service)
  let job: V1Job
  try {
    job = parse(readFileSync(join(ctx.root, TEMPLATE), 'utf8')) as V1Job
  } catch (err) {
    throw new UserError(`cannot read the migration Job template ${TEMPLATE}: ${(err as Error).message}`, 'restore k8s/jobs/db-migration.yaml from git')
  }
  const name = migrationJobName(ctx.env.release)
  job.metadata = { ...job.metadata, name, namespace: ctx.env.namespace, labels: { ...job.metadata?.labels, 'autolytiq.io/release': ctx.env.release.replace(/[^\w.-]/g, '-') } }
  const container = job.spec!.template.spec!.containers[0]!
  container.image = ctx.catalog.image(service.name, p.registry ?? ecrRegistry(ctx.env), p.imageTag ?? ctx.env.release)
  if (p.backoffLimit !== undefined) job.spec!.backoffLimit = p.backoffLimit
  return job
}

type JobState = 'missing' | 'running' | 'succeeded' | 'failed'

function jobState(job: V1Job | undefined): JobState {
  if (!job) return 'missing'
  if (findCondition(job, 'Complete')?.status === 'True') return 'succeeded'
  if (findCondition(job, 'Failed')?.status === 'True') return 'failed'
  return 'running'
}

async function readJob(ctx: Context, name: string): Promise<V1Job | undefined> {
  const batch = await ctx.clients.kube.batch()
  try {
    return await batch.readNamespacedJob({ name, namespace: ctx.env.namespace })
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw new ExternalError(`cannot read Job ${ctx.env.namespace}/${name}: ${apiMessage(err)}`)
  }
}

/** Why the Job failed, from its pods: exit code, termination message (its last log lines), logs. */
async function failureReport(ctx: Context, job: V1Job): Promise<string> {
  const core = await ctx.clients.kube.core()
  const name = job.metadata!.name!
  const pods = await core.listNamespacedPod({ namespace: ctx.env.namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` })
  const byAge = [...pods.items].sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)))
  const last: V1Pod | undefined = byAge[byAge.length - 1]
  const failed = findCondition(job, 'Failed')
  const lines = [`Job ${ctx.env.namespace}/${name} failed${failed?.reason ? ` (${failed.reason})` : ''}${failed?.message ? `: ${failed.message}` : ''}; ${pods.items.length} pod(s) tried`]
  if (last) {
    const cs = last.status?.containerStatuses?.[0]
    const t = cs?.state?.terminated ?? cs?.lastState?.terminated
    lines.push(`  last pod ${last.metadata?.name}: ${t ? `exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${t.message ? `: ${t.message.trim()}` : ''}` : (cs?.state?.waiting?.reason ?? last.status?.phase ?? 'unknown')}`)
    const logs = await lastLogs(ctx.clients.kube, { namespace: ctx.env.namespace, pod: last.metadata!.name!, container: cs?.name ?? 'migration', restartCount: 0 })
    lines.push(logs ? `  logs:\n${logs.replace(/^/gm, '    ')}` : '  logs: unavailable (the termination message above is the log tail)')
  }
  return lines.join('\n')
}

async function waitForJob(ctx: Context, name: string, timeoutMs: number): Promise<V1Job> {
  const batch = await ctx.clients.kube.batch()
  const namespace = ctx.env.namespace
  return waitForObject<V1Job, V1Job>(ctx.clients.kube, {
    path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
    list: (fieldSelector) => batch.listNamespacedJob({ namespace, fieldSelector }),
    name,
    namespace,
    timeoutMs,
    signal: ctx.signal,
    log: ctx.log,
    evaluate: (job) => {
      const state = jobState(job)
      if (state === 'succeeded' || state === 'failed') return { done: true, value: job! }
      const s = job?.status
      return { done: false, progress: `${name}: ${s?.active ?? 0} running, ${s?.succeeded ?? 0} succeeded, ${s?.failed ?? 0} failed` }
    },
    onTimeout: (_last, progress) =>
      new StepFailedError(
        `migration Job ${namespace}/${name} still running after ${Math.round(timeoutMs / 1000)} s (${progress || 'no status'})`,
        `inspect it (\`kubectl -n ${namespace} describe job ${name}\`); re-running waits for the same Job`,
      ),
  })
}

/**
 * Plan 5.8 made safe to repeat: the Job is named from the release, so a release already migrated
 * is done; a running Job (after a crash) is waited for, not duplicated; a failed one is replaced
 * on the next run after its logs were shown.
 */
export const k8sMigrate: Step<Params> = {
  id: 'k8s.migrate',
  title: 'Database migrations (Job per release)',
  description:
    "Plan 5.8: runs `./migrate up` from the release's image as Job db-migration-<release>; done when that Job already succeeded; waits on it (no `kubectl logs -f job/db-migration-*`) and shows its logs or termination message on failure.",
  danger: 'mutating',
  params,
  timeoutMs: 2 * 60 * 60_000,
  async plan(ctx, p) {
    const job = migrationJob(ctx, p)
    const state = jobState(await readJob(ctx, job.metadata!.name!))
    return [
      `Job ${ctx.env.namespace}/${job.metadata!.name}: ${state}`,
      ...(state === 'failed' ? [`delete the failed Job ${job.metadata!.name} (propagationPolicy Background)`] : []),
      ...(state === 'missing' || state === 'failed'
        ? [`create Job ${job.metadata!.name}: image ${job.spec!.template.spec!.containers[0]!.image}, command ${JSON.stringify(job.spec!.template.spec!.containers[0]!.command)}, backoffLimit ${job.spec!.backoffLimit}`]
        : []),
      `watch the Job until Complete or Failed (deadline ${p.timeoutSeconds} s)`,
    ]
  },
  async check(ctx, p) {
    const name = migrationJob(ctx, p).metadata!.name!
    const job = await readJob(ctx, name)
    switch (jobState(job)) {
      case 'succeeded':
        return { status: 'done', detail: `${name} succeeded`, outputs: { job: name, release: ctx.env.release } }
      case 'failed':
        return { status: 'drift', detail: `${name} failed earlier; it will be replaced and run again` }
      case 'running':
        return { status: 'todo', detail: `${name} is still running; waiting for it` }
      default:
        return { status: 'todo', detail: `${name} not run yet` }
    }
  },
  async run(ctx, p) {
    const wanted = migrationJob(ctx, p)
    const name = wanted.metadata!.name!
    const batch = await ctx.clients.kube.batch()
    let job = await readJob(ctx, name)
    if (jobState(job) === 'failed') {
      ctx.log(`deleting the failed Job ${name}`)
      // 404: a previous attempt's delete already went through (crash between delete and create)
      await batch.deleteNamespacedJob({ name, namespace: ctx.env.namespace, propagationPolicy: 'Background' }).catch((err: unknown) => {
        if (!isNotFound(err)) throw new ExternalError(`cannot delete the failed Job ${name}: ${apiMessage(err)}`)
      })
      await waitForObject<V1Job, true>(ctx.clients.kube, {
        path: `/apis/batch/v1/namespaces/${ctx.env.namespace}/jobs`,
        list: (fieldSelector) => batch.listNamespacedJob({ namespace: ctx.env.namespace, fieldSelector }),
        name,
        namespace: ctx.env.namespace,
        timeoutMs: 120_000,
        signal: ctx.signal,
        evaluate: (j) => (j ? { done: false, progress: `waiting for ${name} to be deleted` } : { done: true, value: true }),
        onTimeout: () => new StepFailedError(`the failed Job ${name} was not deleted within 120 s`, `delete it: kubectl -n ${ctx.env.namespace} delete job ${name}`),
      })
      job = undefined
    }
    if (!job) {
      try {
        await batch.createNamespacedJob({ namespace: ctx.env.namespace, body: wanted, fieldManager: FIELD_MANAGER })
        ctx.log(`created Job ${name} (${wanted.spec!.template.spec!.containers[0]!.image})`)
      } catch (err) {
        // 409: another run created it between our read and create: wait for that one
        if ((err as { code?: number }).code !== 409) throw new ExternalError(`cannot create Job ${name}: ${apiMessage(err)}`)
      }
    }
    const finished = await waitForJob(ctx, name, p.timeoutSeconds * 1000)
    if (jobState(finished) === 'failed') {
      throw new StepFailedError(
        `database migration failed:\n${await failureReport(ctx, finished)}`,
        `fix the migration (or the database), then re-run \`autolytiq deploy --env ${ctx.envName} --from k8s.migrate\`; the failed Job is replaced`,
      )
    }
    return { job: name, release: ctx.env.release }
  },
}

