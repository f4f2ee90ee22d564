import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'
import { withSignal } from './api.js'

/**
 * Container states that will not fix themselves while a rollout waits: a rollout that sees one
 * fails at once (with the pod, reason and last words) instead of sitting out its deadline.
 */
export const FAIL_FAST_REASONS = [
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
] as const

export interface PodFailure {
  namespace: string
  pod: string
  container: string
  reason: string
  /** The waiting state's message (e.g. "Back-off pulling image ..."). */
  message?: string
  restartCount: number
  /** The previous run's end: exit code, reason and termination message (the last log lines, with FallbackToLogsOnError). */
  lastTermination?: { exitCode?: number; reason?: string; message?: string; finishedAt?: string }
  /** Last log lines of the previous run, when the kubelet could be reached in time. */
  logs?: string
}

/** What is wrong with a pod right now, one entry per failing container (init containers too). Pure. */
export function podFailures(pod: V1Pod): PodFailure[] {
  const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const out: PodFailure[] = []
  for (const cs of statuses) {
    const reason = cs.state?.waiting?.reason
    if (!reason || !(FAIL_FAST_REASONS as readonly string[]).includes(reason)) continue
    const last = cs.lastState?.terminated
    out.push({
      namespace: pod.metadata?.namespace ?? '',
      pod: pod.metadata?.name ?? '',
      container: cs.name,
      reason,
      message: cs.state?.waiting?.message,
      restartCount: cs.restartCount ?? 0,
      lastTermination: last
        ? { exitCode: last.exitCode, reason: last.reason, message: last.message?.trim() || undefined, finishedAt: toIso(last.finishedAt) }
        : undefined,
    })
  }
  return out
}

/**
 * How long a pod may stay Unschedulable before a rollout gives up on it. There is no cluster
 * autoscaler to add a node, so only pods going away can make room; a short grace lets a
 * rollout's surge pod wait for an old pod of another Deployment to finish terminating.
 */
export const UNSCHEDULABLE_GRACE_MS = 30_000

/**
 * A pod kube-scheduler cannot place (PodScheduled=False, Unschedulable), with the scheduler's
 * reason ("0/3 nodes are available: 3 Insufficient cpu...") — once it has waited `graceMs`.
 * Returns the moment it will count when it is still within the grace. Pure.
 */
export function unschedulable(pod: V1Pod, now: number, graceMs = UNSCHEDULABLE_GRACE_MS): { failure?: PodFailure; at?: number } {
  const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')
  if (!cond || pod.spec?.nodeName) return {}
  const since = cond.lastTransitionTime ? new Date(cond.lastTransitionTime).getTime() : now
  if (now - since < graceMs) return { at: since + graceMs }
  return {
    failure: {
      namespace: pod.metadata?.namespace ?? '',
      pod: pod.metadata?.name ?? '',
      container: '(pod)',
      reason: 'Unschedulable',
      message: `${cond.message ?? 'no node fits'} — the nodes lack room for its requests (or it tolerates no node's taints); add nodes or lower the requests`,
      restartCount: 0,
      lastTermination: { message: `Pending, unschedulable for ${Math.round((now - since) / 1000)} s` },
    },
  }
}

function toIso(t: unknown): string | undefined {
  if (!t) return undefined
  return t instanceof Date ? t.toISOString() : String(t)
}

/** One readable paragraph: pod, container, reason, restarts, the last termination and logs. */
export function describeFailure(f: PodFailure): string {
  if (f.reason === 'Unschedulable') return `pod ${f.namespace}/${f.pod}: Unschedulable (${f.lastTermination?.message ?? 'Pending'}): ${f.message ?? ''}`
  const parts = [`pod ${f.namespace}/${f.pod} container ${f.container}: ${f.reason}`, `restarts ${f.restartCount}`]
  if (f.message) parts.push(f.message)
  const lines = [parts.join('; ')]
  const t = f.lastTermination
  if (t) lines.push(`  last termination: exit code ${t.exitCode ?? '?'}${t.reason ? ` (${t.reason})` : ''}${t.message ? `: ${t.message}` : ''}`)
  if (f.logs) lines.push(`  last log lines:\n${indent(f.logs, '    ')}`)
  else if (!t?.message) lines.push('  (no termination message; logs unavailable)')
  return lines.join('\n')
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => prefix + l)
    .join('\n')
}

/**
 * The previous run's last log lines. Best effort within `timeoutMs`: logs come from the kubelet
 * through the API server, which may be unreachable; a failure is reported without them.
 */
export async function lastLogs(kube: KubeClients, f: Pick<PodFailure, 'namespace' | 'pod' | 'container' | 'restartCount'>, timeoutMs = 1500): Promise<string | undefined> {
  try {
    const core = await kube.core()
    const text = await core.readNamespacedPodLog(
      { name: f.pod, namespace: f.namespace, container: f.container, previous: f.restartCount > 0, tailLines: 20, limitBytes: 8192 },
      withSignal(AbortSignal.timeout(timeoutMs)),
    )
    return typeof text === 'string' && text.trim() ? text.trim() : undefined
  } catch {
    return undefined
  }
}

/** Adds the last log lines to each failure (concurrently, bounded by `timeoutMs`). */
export async function withLogs(kube: KubeClients, failures: PodFailure[], timeoutMs = 1500): Promise<PodFailure[]> {
  return Promise.all(failures.map(async (f) => ({ ...f, logs: await lastLogs(kube, f, timeoutMs) })))
}

/**
 * One look (no waiting) at the pods of a namespace, optionally narrowed by a label selector:
 * every container in a fail-fast state. For verify and rollback, which need "is anything broken
 * now?" rather than a rollout wait.
 */
export async function detectPodFailures(
  kube: KubeClients,
  opts: { namespace: string; labelSelector?: string; logs?: boolean; signal?: AbortSignal },
): Promise<PodFailure[]> {
  const core = await kube.core()
  const pods = await core.listNamespacedPod(
    { namespace: opts.namespace, labelSelector: opts.labelSelector },
    opts.signal ? withSignal(opts.signal) : undefined,
  )
  const failures = pods.items.filter((p) => !p.metadata?.deletionTimestamp).flatMap(podFailures)
  return opts.logs ? withLogs(kube, failures) : failures
}
