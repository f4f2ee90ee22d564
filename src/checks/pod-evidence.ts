import type * as k8s from '@kubernetes/client-node'
import type { Service } from '../config/catalog.js'
import { errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import type { Context } from '../engine/types.js'
import { podProblem, podsOf, time } from './k8s-view.js'

/** Why one broken pod is broken: what `kubectl describe` and `kubectl logs --previous` would show. */
export interface PodEvidence {
  pod: string
  service?: string
  problem: string
  container?: string
  restarts?: number
  /** The last termination of the container: reason and exit code. */
  lastTermination?: { reason?: string; exitCode: number; finishedAt?: string; message?: string }
  /** The last lines the container wrote (of its previous run when it restarted), redacted. */
  logs: string[]
  /** Why there are no logs, when there are none. */
  logsUnavailable?: string
  /** Recent Warning events of the pod, newest first. */
  events: string[]
}

export const LOG_LINES = 20
/** A crash-looping rollout has many identical pods; a few tell the story. */
const MAX_PODS = 5

function apiReason(err: unknown): string {
  const e = err as { code?: number; body?: unknown }
  let msg: string | undefined
  if (typeof e.body === 'string') {
    try {
      msg = (JSON.parse(e.body) as { message?: string }).message
    } catch {
      msg = e.body.slice(0, 200)
    }
  }
  return `${e.code ? `HTTP ${e.code}: ` : ''}${msg ?? errorMessage(err)}`
}

/**
 * Evidence for every pod in an error state (of `services`, or all in the namespace): last
 * termination reason and exit code, the last 20 log lines and recent Warning events.
 */
export async function explainFailingPods(ctx: Context, services: Service[] | undefined, since: number): Promise<PodEvidence[]> {
  const core = await ctx.clients.kube.core()
  const namespace = ctx.env.namespace
  const [pods, deployments, events] = await Promise.all([
    core.listNamespacedPod({ namespace }).then((l) => l.items),
    (await ctx.clients.kube.apps()).listNamespacedDeployment({ namespace }).then((l) => l.items),
    core.listNamespacedEvent({ namespace, fieldSelector: 'type=Warning' }).then((l) => l.items),
  ])
  const owner = new Map<string, string>()
  for (const d of deployments) for (const p of podsOf(d, pods)) owner.set(p.metadata?.name ?? '', d.metadata?.name ?? '')
  const wanted = services ? new Set(services.map((s) => s.name)) : undefined
  const now = Date.now()
  const broken = pods
    .map((p) => ({ p, problem: podProblem(p, now) }))
    .filter((x) => x.problem?.severity === 'fail' && (!wanted || wanted.has(owner.get(x.p.metadata?.name ?? '') ?? '')))
    .slice(0, MAX_PODS)
  return Promise.all(broken.map(({ p, problem }) => evidence(core, p, problem!.problem, owner.get(p.metadata?.name ?? ''), events, since)))
}

async function evidence(
  core: k8s.CoreV1Api,
  pod: k8s.V1Pod,
  problem: string,
  service: string | undefined,
  events: k8s.CoreV1Event[],
  since: number,
): Promise<PodEvidence> {
  const name = pod.metadata?.name ?? '?'
  const namespace = pod.metadata?.namespace ?? ''
  const statuses = pod.status?.containerStatuses ?? []
  const c = statuses.find((s) => !s.ready) ?? statuses[0]
  const term = c?.lastState?.terminated ?? c?.state?.terminated
  const out: PodEvidence = {
    pod: name,
    service,
    problem,
    container: c?.name,
    restarts: c?.restartCount,
    lastTermination: term
      ? {
          reason: term.reason,
          exitCode: term.exitCode,
          finishedAt: time(term.finishedAt) ? new Date(term.finishedAt!).toISOString() : undefined,
          message: term.message ? redact(term.message) : undefined,
        }
      : undefined,
    logs: [],
    events: events
      .filter((e) => e.involvedObject?.name === name && (time(e.lastTimestamp) ?? time(e.metadata?.creationTimestamp) ?? 0) >= since)
      .sort((a, b) => (time(b.lastTimestamp) ?? 0) - (time(a.lastTimestamp) ?? 0))
      .slice(0, 5)
      .map((e) => redact(`${e.reason} ×${e.count ?? 1}: ${(e.message ?? '').slice(0, 200)}`)),
  }
  if (!c) {
    out.logsUnavailable = 'no container has started'
    return out
  }
  // A restarted container's crash is in its previous run; the current one may not have written anything yet.
  const attempts = (c.restartCount ?? 0) > 0 ? [true, false] : [false]
  for (const previous of attempts) {
    try {
      const text = await core.readNamespacedPodLog({ name, namespace, container: c.name, tailLines: LOG_LINES, previous })
      out.logs = redact(String(text))
        .split('\n')
        .filter((l, i, all) => l !== '' || i < all.length - 1)
        .slice(-LOG_LINES)
      delete out.logsUnavailable
      break
    } catch (err) {
      out.logsUnavailable = redact(apiReason(err))
    }
  }
  return out
}
