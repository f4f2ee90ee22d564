import type * as k8s from '@kubernetes/client-node'

/**
 * How long a new HorizontalPodAutoscaler may go without metrics before that is a problem. The HPA
 * controller syncs every 15 s; metrics-server scrapes every 15 s (60 s in older charts) and needs
 * two samples of a pod before it has a CPU rate, and pods that just started are left out; so the
 * first reading lands 30-90 s after a new HPA and its pods appear. 3 min covers a slow first
 * scrape; environments can set `hpaMetricsGraceSeconds`.
 */
export const HPA_METRICS_GRACE_SECONDS = 180
/** kube-controller-manager's --horizontal-pod-autoscaler-sync-period default. */
export const HPA_SYNC_SECONDS = 15

/** One HPA's metrics, as `autolytiq verify` and the deploy's verify.all both judge them. */
export type HpaMetricsVerdict =
  | { hpa: string; verdict: 'reading' }
  /**
   * No metrics yet, within the grace after the HPA was created: the first reading is due by `dueAt`.
   * `scalingDisabled`: its target was at zero replicas at the controller's last sync (a database
   * rollback scales services to zero); the controller resumes at its next sync.
   */
  | { hpa: string; verdict: 'not-yet'; ageSeconds: number; dueAt: string; why: string; scalingDisabled?: boolean }
  /** No metrics past the grace: the HPA cannot scale. `noMetricsApi`: metrics-server is missing. */
  | { hpa: string; verdict: 'broken'; ageSeconds: number; why: string; noMetricsApi: boolean }

/**
 * The one place that decides whether an HPA reads its metrics. Reading: current metrics and
 * ScalingActive not False (what `kubectl get hpa` shows as TARGETS other than <unknown>).
 * Otherwise the HPA's age decides: younger than the grace, "not yet"; older, "broken", with the
 * controller's own message (e.g. "unable to fetch metrics from resource metrics API").
 */
export function judgeHpaMetrics(hpa: k8s.V2HorizontalPodAutoscaler, now: number, graceSeconds = HPA_METRICS_GRACE_SECONDS): HpaMetricsVerdict {
  const name = hpa.metadata?.name ?? '?'
  const active = hpa.status?.conditions?.find((c) => c.type === 'ScalingActive')
  if (hpa.status?.currentMetrics?.length && active?.status !== 'False') return { hpa: name, verdict: 'reading' }
  const created = hpa.metadata?.creationTimestamp ? new Date(hpa.metadata.creationTimestamp).getTime() : now
  const ageSeconds = Math.max(0, Math.round((now - created) / 1000))
  const why = active?.status === 'False' && active.message ? active.message : 'no current metrics'
  // kube-controller-manager's HPA controller (horizontal.go) disables scaling while the target has
  // zero replicas and says so until its next sync (every 15 s) after the target is scaled up again.
  if (active?.status === 'False' && active.reason === 'ScalingDisabled') {
    const since = active.lastTransitionTime ? new Date(active.lastTransitionTime).getTime() : now
    return {
      hpa: name,
      verdict: 'not-yet',
      ageSeconds,
      dueAt: new Date(Math.max(since, now) + HPA_SYNC_SECONDS * 2 * 1000).toISOString(),
      why,
      scalingDisabled: true,
    }
  }
  if (ageSeconds < graceSeconds) return { hpa: name, verdict: 'not-yet', ageSeconds, dueAt: new Date(created + graceSeconds * 1000).toISOString(), why }
  return { hpa: name, verdict: 'broken', ageSeconds, why, noMetricsApi: /metrics\.k8s\.io|resource metrics API|metrics-server/.test(why) }
}

/** The check's wording for HPAs that do not read metrics (not yet, or broken). */
export function describeHpaMetrics(v: Exclude<HpaMetricsVerdict, { verdict: 'reading' }>): string {
  if (v.verdict === 'not-yet' && v.scalingDisabled)
    return `${v.hpa}: scaling disabled while its target had zero replicas (the HPA controller resumes at its next sync, by ${v.dueAt.slice(11, 19)} UTC)`
  if (v.verdict === 'not-yet') return `${v.hpa}: no metrics yet (created ${v.ageSeconds} s ago; the first reading is due by ${v.dueAt.slice(11, 19)} UTC)`
  return `${v.hpa}: no metrics ${formatAge(v.ageSeconds)} after it was created (${v.why})`
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}
