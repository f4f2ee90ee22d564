import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'
import { StepFailedError } from '../engine/errors.js'
import { liveList, type LiveList } from './informer.js'
import { describeFailure, podFailures, unschedulable, UNSCHEDULABLE_GRACE_MS, withLogs, type PodFailure } from './pods.js'

export interface RolloutStatus {
  name: string
  done: boolean
  /** kubectl rollout status' wording: what the rollout is waiting for. */
  message: string
  /** Set when the Deployment controller gave up (progressDeadlineSeconds exceeded). */
  failed?: string
  revision?: number
  desired: number
  updated: number
  available: number
}

const REVISION = 'deployment.kubernetes.io/revision'

/** Has the Deployment controller acted on the latest spec? Until then status describes the old one. */
export function specObserved(d: V1Deployment): boolean {
  return (d.metadata?.generation ?? 0) <= (d.status?.observedGeneration ?? 0)
}

/** Where one Deployment's rollout stands — the same rules as `kubectl rollout status`. Pure. */
export function deploymentRolloutStatus(d: V1Deployment): RolloutStatus {
  const name = d.metadata?.name ?? '?'
  const s = d.status ?? {}
  const desired = d.spec?.replicas ?? 1
  const base = {
    name,
    desired,
    updated: s.updatedReplicas ?? 0,
    available: s.availableReplicas ?? 0,
    revision: Number(d.metadata?.annotations?.[REVISION]) || undefined,
  }
  if (!specObserved(d)) return { ...base, done: false, message: 'waiting for the new spec to be observed' }
  const progressing = s.conditions?.find((c) => c.type === 'Progressing')
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return {
      ...base,
      done: false,
      message: 'progress deadline exceeded',
      failed: `no progress within progressDeadlineSeconds (${d.spec?.progressDeadlineSeconds ?? 600} s)${progressing.message ? `: ${progressing.message}` : ''}`,
    }
  if (base.updated < desired) return { ...base, done: false, message: `${base.updated} of ${desired} updated replicas` }
  if ((s.replicas ?? 0) > base.updated) return { ...base, done: false, message: `${(s.replicas ?? 0) - base.updated} old replicas pending termination` }
  if (base.available < base.updated) return { ...base, done: false, message: `${base.available} of ${base.updated} updated replicas available` }
  return { ...base, done: true, message: `rolled out (revision ${base.revision ?? '?'})` }
}

/** The ReplicaSet of the Deployment's current revision (the rollout's new pods). Pure. */
export function currentReplicaSet(d: V1Deployment, replicaSets: ReadonlyArray<V1ReplicaSet>): V1ReplicaSet | undefined {
  const revision = d.metadata?.annotations?.[REVISION]
  if (!revision) return undefined
  return replicaSets.find((rs) => rs.metadata?.annotations?.[REVISION] === revision && rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid))
}

/** Pods created by `rs` and not being deleted. Pure. */
export function podsOf(rs: V1ReplicaSet, pods: ReadonlyArray<V1Pod>): V1Pod[] {
  return pods.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.ownerReferences?.some((o) => o.uid === rs.metadata?.uid))
}

export interface WaitForRolloutsOptions {
  namespace: string
  deployments: string[]
  /** Overall deadline; each Deployment's own progressDeadlineSeconds is honoured within it. Default 10 min. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Per-deployment progress, one line per change ("deal-service: 1 of 3 updated replicas"). */
  log?: (line: string) => void
  /** The same changes as structured statuses. */
  onStatus?: (status: RolloutStatus) => void
  /** Fail at the first CrashLoopBackOff/ImagePullBackOff/... of a new pod (default true). */
  failFast?: boolean
  /** How long to try for the failing container's last logs (default 1.5 s). */
  logTimeoutMs?: number
  /** A new pod Unschedulable this long fails the rollout (default 30 s). */
  unschedulableGraceMs?: number
}

export interface RolloutResult {
  name: string
  revision?: number
  images: string[]
  replicas: number
}

/** A rollout that cannot succeed: names the Deployment and the failing pods. */
export class RolloutFailedError extends StepFailedError {
  constructor(
    message: string,
    readonly deployment: string,
    readonly failures: PodFailure[],
    next?: string,
  ) {
    super(message, next)
  }
}

/**
 * Waits for every Deployment's rollout concurrently, driven by watches on Deployments,
 * ReplicaSets and Pods (no sleeping). Fails fast when a pod of a rollout's new ReplicaSet is in
 * CrashLoopBackOff, ImagePullBackOff, ErrImagePull or CreateContainerConfigError, reporting pod,
 * reason, restart count and the last termination message or logs; fails when a Deployment
 * exceeds its progressDeadlineSeconds; fails after `timeoutMs` naming what is still waiting.
 */
export async function waitForRollouts(kube: KubeClients, opts: WaitForRolloutsOptions): Promise<RolloutResult[]> {
  const { namespace } = opts
  const failFast = opts.failFast ?? true
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000
  const log = opts.log ?? (() => undefined)
  const apps = await kube.apps()
  const core = await kube.core()

  let settle: { resolve: (r: RolloutResult[]) => void; reject: (e: unknown) => void } | undefined
  const result = new Promise<RolloutResult[]>((resolve, reject) => (settle = { resolve, reject }))
  // observed below unless starting the watches fails first; never an unhandled rejection
  result.catch(() => undefined)
  let settled = false
  const finish = (fn: () => void): void => {
    if (settled) return
    settled = true
    fn()
  }
  const lastMessage = new Map<string, string>()
  let scheduled = false
  const schedule = (): void => {
    if (scheduled || settled) return
    scheduled = true
    setImmediate(() => {
      scheduled = false
      evaluate()
    })
  }
  const rechecks: NodeJS.Timeout[] = []
  const recheckAt = (at: number): void => {
    const t = setTimeout(schedule, Math.max(0, at - Date.now()) + 50)
    t.unref()
    rechecks.push(t)
  }
  const reconnect = (what: string) => (reason: string) => log(`watch on ${what} interrupted (${reason}); reconnecting`)

  let deployments: LiveList<V1Deployment> | undefined
  let replicaSets: LiveList<V1ReplicaSet> | undefined
  let pods: LiveList<V1Pod> | undefined

  const fail = (deployment: string, failures: PodFailure[], why = 'failed'): void => {
    if (settled) return
    settled = true
    // logs are best effort and bounded; the failure is already decided
    void withLogs(kube, failures, opts.logTimeoutMs ?? 1500).then((withText) => {
      const what = withText.map(describeFailure).join('\n')
      settle!.reject(
        new RolloutFailedError(
          `rollout of ${deployment} in ${namespace} ${why}:\n${what}`,
          deployment,
          withText,
          `fix the image or configuration of ${deployment} (or roll it back: \`autolytiq rollback --env ${kube.settings.envName ?? '<env>'} --service ${deployment}\`), then re-run`,
        ),
      )
    })
  }

  const evaluate = (): void => {
    if (settled || !deployments || !replicaSets || !pods) return
    const statuses: RolloutStatus[] = []
    for (const name of opts.deployments) {
      const d = deployments.get(name, namespace)
      if (!d) {
        finish(() =>
          settle!.reject(new StepFailedError(`deployment ${name} does not exist in namespace ${namespace}`, `apply the manifests first: \`autolytiq deploy --env ${kube.settings.envName ?? '<env>'} --only k8s.deploy\``)),
        )
        return
      }
      const st = deploymentRolloutStatus(d)
      statuses.push(st)
      if (lastMessage.get(name) !== st.message) {
        lastMessage.set(name, st.message)
        log(`${name}: ${st.message}`)
        opts.onStatus?.(st)
      }
      // Only the new ReplicaSet's pods count, and only once the controller has seen the new spec:
      // an old revision's crash-looping pods must not fail a rollout that replaces them.
      const rs = currentReplicaSet(d, replicaSets.items())
      const mine = failFast && rs && !st.done && specObserved(d) ? podsOf(rs, pods.items()) : []
      const failures = mine.flatMap(podFailures)
      if (failures.length) return fail(name, failures)
      // a pod no node can take: no event will come when its grace ends, so a timer looks again
      const now = Date.now()
      const pending = mine.map((p) => unschedulable(p, now, opts.unschedulableGraceMs ?? UNSCHEDULABLE_GRACE_MS))
      const stuck = pending.flatMap((u) => (u.failure ? [u.failure] : []))
      if (stuck.length) return fail(name, stuck, 'cannot be scheduled')
      for (const u of pending) if (u.at) recheckAt(u.at)
      if (st.failed) {
        const stuck = rs ? podsOf(rs, pods.items()).flatMap(podFailures) : []
        if (stuck.length) return fail(name, stuck, `failed (${st.failed})`)
        finish(() =>
          settle!.reject(
            new RolloutFailedError(`rollout of ${name} in ${namespace} failed: ${st.failed}`, name, [], `look at \`kubectl describe deployment ${name} -n ${namespace}\` and its pods' events`),
          ),
        )
        return
      }
    }
    if (statuses.every((s) => s.done)) {
      finish(() =>
        settle!.resolve(
          opts.deployments.map((name) => {
            const d = deployments!.get(name, namespace)!
            return {
              name,
              revision: Number(d.metadata?.annotations?.[REVISION]) || undefined,
              images: (d.spec?.template.spec?.containers ?? []).map((c) => c.image ?? ''),
              replicas: d.spec?.replicas ?? 1,
            }
          }),
        ),
      )
    }
  }

  const timer = setTimeout(() => {
    const waiting = opts.deployments
      .map((n) => deployments?.get(n, namespace))
      .filter((d): d is V1Deployment => Boolean(d))
      .map(deploymentRolloutStatus)
      .filter((s) => !s.done)
    finish(() =>
      settle!.reject(
        new StepFailedError(
          `rollout not finished after ${Math.round(timeoutMs / 1000)} s in ${namespace}: ${summarizeWaiting(waiting) || 'the watches never reported'}`,
          'check the pods (`kubectl get pods -n ' + namespace + '`) and re-run; finished deployments are not touched again',
        ),
      ),
    )
  }, timeoutMs)
  const onAbort = (): void => finish(() => settle!.reject(opts.signal?.reason ?? new Error('rollout wait aborted')))
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  try {
    const lists = await Promise.allSettled([
      liveList<V1Deployment>(kube, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace }), {
        onChange: schedule,
        onReconnect: reconnect('deployments'),
      }),
      liveList<V1ReplicaSet>(kube, `/apis/apps/v1/namespaces/${namespace}/replicasets`, () => apps.listNamespacedReplicaSet({ namespace }), {
        onChange: schedule,
        onReconnect: reconnect('replicasets'),
      }),
      liveList<V1Pod>(kube, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace }), {
        onChange: schedule,
        onReconnect: reconnect('pods'),
      }),
    ] as const)
    const refused = lists.find((l) => l.status === 'rejected')
    deployments = lists[0].status === 'fulfilled' ? lists[0].value : undefined
    replicaSets = lists[1].status === 'fulfilled' ? lists[1].value : undefined
    pods = lists[2].status === 'fulfilled' ? lists[2].value : undefined
    if (refused) throw refused.reason // the finally block stops the watches that did start
    schedule()
    return await result
  } finally {
    clearTimeout(timer)
    rechecks.forEach(clearTimeout)
    opts.signal?.removeEventListener('abort', onAbort)
    await Promise.all([deployments?.stop(), replicaSets?.stop(), pods?.stop()])
  }
}

/** "does not exist: a, b; 1 of 3 updated replicas: c" — statuses grouped by what they wait for. */
export function summarizeWaiting(statuses: Pick<RolloutStatus, 'name' | 'message' | 'done'>[]): string {
  const groups = new Map<string, string[]>()
  for (const s of statuses.filter((x) => !x.done)) groups.set(s.message, [...(groups.get(s.message) ?? []), s.name])
  return [...groups].map(([message, names]) => `${message}: ${names.join(', ')}`).join('; ')
}

/** One look at the rollouts (no waiting): for check() — are they all finished and healthy? */
export async function rolloutStatuses(kube: KubeClients, namespace: string, names: string[]): Promise<(RolloutStatus & { failures: PodFailure[] })[]> {
  const apps = await kube.apps()
  const core = await kube.core()
  const [deps, rss, pods] = await Promise.all([
    apps.listNamespacedDeployment({ namespace }),
    apps.listNamespacedReplicaSet({ namespace }),
    core.listNamespacedPod({ namespace }),
  ])
  return names.map((name) => {
    const d = deps.items.find((x) => x.metadata?.name === name)
    if (!d) return { name, done: false, message: 'does not exist', desired: 0, updated: 0, available: 0, failures: [] }
    const rs = currentReplicaSet(d, rss.items)
    return { ...deploymentRolloutStatus(d), failures: rs ? podsOf(rs, pods.items).flatMap(podFailures) : [] }
  })
}
