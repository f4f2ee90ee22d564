import { randomBytes } from 'node:crypto'
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import type { Context } from '../engine/types.js'
import { waitForObject } from '../k8s/wait.js'
import { APP_SECRET } from './secrets.js'

/**
 * The database and Redis security groups admit only the EKS cluster's security group, so from an
 * engineer's laptop (or a bastion) `SELECT 1` and `PING` time out however healthy they are. This
 * proves reachability from where the services run: a short-lived Job in the app namespace, with
 * the services' own Secret (envFrom autolytiq-secrets, so no secret is in the Job's spec), runs
 * the upstream client (psql, redis-cli from the official images on ECR Public), is watched to
 * completion, read (its termination message: the client's own last words) and deleted.
 */
export type ProbeTarget = 'postgres' | 'redis'

const PROBES: Record<ProbeTarget, { image: string; script: string }> = {
  postgres: {
    image: 'public.ecr.aws/docker/library/postgres:16-alpine',
    script: 'out=$(psql "$DATABASE_URL" -XtAc "SELECT 1" 2>&1); rc=$?; echo "$out" | tail -c 1000 > /dev/termination-log; [ $rc -eq 0 ] && [ "$out" = 1 ]',
  },
  redis: {
    image: 'public.ecr.aws/docker/library/redis:7-alpine',
    // rediss:// turns TLS on; the image's CA bundle verifies ElastiCache's Amazon certificate
    script:
      'out=$(redis-cli -u "$REDIS_URL" --no-auth-warning PING 2>&1); rc=$?; echo "$out" | tail -c 1000 > /dev/termination-log; [ $rc -eq 0 ] && [ "$out" = PONG ]',
  },
}

export interface ProbeResult {
  ok: boolean
  /** The client's output (redacted), or why the probe could not run. */
  detail: string
  job: string
  ms: number
}

export function probeJob(ctx: Context, target: ProbeTarget, name: string, timeoutMs: number): V1Job {
  const p = PROBES[target]
  const labels = { 'app.kubernetes.io/name': 'autolytiq-probe', 'app.kubernetes.io/managed-by': 'autolytiq', 'autolytiq.io/probe': target }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ctx.env.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(10, Math.ceil(timeoutMs / 1000)),
      // a safety net if autolytiq is killed before it deletes the Job
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'probe',
              image: p.image,
              command: ['sh', '-c', p.script],
              envFrom: [{ secretRef: { name: APP_SECRET } }],
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
        },
      },
    },
  }
}

const finished = (job: V1Job | undefined): 'Complete' | 'Failed' | undefined =>
  job?.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')?.type as 'Complete' | 'Failed' | undefined

/** Runs the probe Job for `target`, watches it to the end, reads its verdict and deletes it. */
export async function probeFromCluster(ctx: Context, target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const namespace = ctx.env.namespace
  const name = `autolytiq-probe-${target}-${randomBytes(3).toString('hex')}`
  const batch = await ctx.clients.kube.batch()
  const core = await ctx.clients.kube.core()
  const t0 = performance.now()
  const ms = (): number => Math.round(performance.now() - t0)
  await batch.createNamespacedJob({ namespace, body: probeJob(ctx, target, name, timeoutMs), fieldManager: 'autolytiq' })
  try {
    const job = await waitForObject<V1Job, V1Job>(ctx.clients.kube, {
      path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
      list: (fieldSelector) => batch.listNamespacedJob({ namespace, fieldSelector }),
      name,
      namespace,
      timeoutMs,
      signal,
      evaluate: (j) => (finished(j) ? { done: true, value: j! } : { done: false, progress: `${name}: ${j?.status?.active ?? 0} running` }),
      onTimeout: () => new Error(`probe Job ${namespace}/${name} did not finish within ${timeoutMs} ms`),
    })
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` })
    const pod: V1Pod | undefined = pods.items[0]
    const state = pod?.status?.containerStatuses?.[0]?.state
    const words = (state?.terminated?.message ?? '').trim()
    const ok = finished(job) === 'Complete'
    const why = ok ? words : words || findFailure(job, pod)
    return { ok, detail: redact(why), job: name, ms: ms() }
  } catch (err) {
    return { ok: false, detail: redact(`the probe Job could not run: ${errorMessage(err)}`), job: name, ms: ms() }
  } finally {
    await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }).catch(() => undefined)
  }
}

function findFailure(job: V1Job, pod: V1Pod | undefined): string {
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True')
  const cs = pod?.status?.containerStatuses?.[0]
  const t = cs?.state?.terminated
  return (
    [failed?.reason, failed?.message, t ? `exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` : cs?.state?.waiting?.reason]
      .filter(Boolean)
      .join(': ') || 'failed'
  )
}
