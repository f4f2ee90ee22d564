import type * as k8s from '@kubernetes/client-node'
import type { Service } from '../config/catalog.js'
import type { Check, CheckStatus, Context } from '../engine/types.js'
import { describeHpaMetrics, judgeHpaMetrics, type HpaMetricsVerdict } from './hpa-metrics.js'
import { MONITORING_NAMESPACE } from './monitoring-endpoint.js'
import { KubeView, podProblem, podsOf, recentRestarts, selects, time } from './k8s-view.js'

type Verdict = { status: CheckStatus; detail: string; data?: Record<string, unknown> }

export interface KubeCheckOptions {
  /** Catalog Deployments the checks are about (all of them, or the --service selection). */
  services: Service[]
  /** Restarts and Warning events older than this are history, not news. */
  windowMinutes: number
  timeoutMs: number
  /** True when --service narrowed the run: pods and events of other workloads are left out. */
  narrowed: boolean
}

const list = (items: string[], max = 5): string => items.slice(0, max).join('; ') + (items.length > max ? `; …and ${items.length - max} more` : '')

/** One Kubernetes check over the shared view; API errors become a failed check, never a crash. */
function kubeCheck(id: string, title: string, o: KubeCheckOptions, judge: (ctx: Context) => Promise<Verdict>): Check {
  return { id, title, layer: 'kubernetes', services: o.services.map((s) => s.name), timeoutMs: o.timeoutMs, run: (ctx) => judge(ctx) }
}

function byName(deployments: k8s.V1Deployment[]): Map<string, k8s.V1Deployment> {
  return new Map(deployments.map((d) => [d.metadata?.name ?? '', d]))
}

/** Plan 8.2: every catalog Deployment exists and has all its replicas available. */
export function deploymentsCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.deployments', 'Deployments available', o, async () => {
    const found = byName(await view.deployments())
    const problems: string[] = []
    let ready = 0
    for (const s of o.services) {
      const d = found.get(s.name)
      if (!d) {
        problems.push(`${s.name}: Deployment not found in ${view.namespace}`)
        continue
      }
      const want = d.spec?.replicas ?? 1
      const available = d.status?.availableReplicas ?? 0
      const cond = d.status?.conditions?.find((c) => c.type === 'Available')
      ready += available
      if (available < want || cond?.status === 'False')
        problems.push(`${s.name}: ${available}/${want} available${cond?.status === 'False' && cond.message ? ` (${cond.message})` : ''}`)
    }
    if (problems.length) return { status: 'fail', detail: list(problems) }
    return { status: 'pass', detail: `${o.services.length} Deployment(s) fully available (${ready} pods)${runningImages(o.services, found)}` }
  })
}

/** '; images api-gateway v1.0.0@sha256:0123456789ab, …' — what runs, by tag and digest (k8s.deploy pins digests). */
function runningImages(services: Service[], found: Map<string, k8s.V1Deployment>): string {
  const pinned: string[] = []
  for (const s of services) {
    const image = found.get(s.name)?.spec?.template.spec?.containers.find((c) => c.name === s.name)?.image
    if (!image?.includes('@')) continue // not pinned: nothing to add to "available"
    const [ref = '', digest = ''] = image.split('@')
    const tag = ref.slice(ref.lastIndexOf('/') + 1).split(':')[1] ?? 'latest'
    pinned.push(`${s.name} ${tag}@${digest.slice(0, 19)}`)
  }
  return pinned.length ? `; images ${list(pinned, services.length)}` : ''
}

/** Pods this run is about: those of the selected Deployments, plus everything else unless narrowed. */
async function relevantPods(view: KubeView, o: KubeCheckOptions): Promise<k8s.V1Pod[]> {
  const pods = await view.pods()
  if (!o.narrowed) return pods
  const deps = byName(await view.deployments())
  return o.services.flatMap((s) => (deps.get(s.name) ? podsOf(deps.get(s.name)!, pods) : []))
}

/** Plan 8.2 "no pods in error state": CrashLoopBackOff, image pull errors, Failed, stuck Pending. */
export function podsCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.pods', 'No pods in error states', o, async () => {
    const pods = await relevantPods(view, o)
    const now = Date.now()
    const problems = pods.map((p) => podProblem(p, now)).filter((p) => p !== undefined)
    const fails = problems.filter((p) => p.severity === 'fail')
    const text = problems.map((p) => `${p.pod}: ${p.problem}`)
    if (fails.length) return { status: 'fail', detail: `${fails.length} of ${pods.length} pods broken: ${list(text)}` }
    if (problems.length) return { status: 'warn', detail: list(text) }
    return { status: 'pass', detail: `${pods.length} pods, none in an error state` }
  })
}

export function restartsCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.restarts', `No container restarts in the last ${o.windowMinutes} min`, o, async () => {
    const since = Date.now() - o.windowMinutes * 60_000
    const hits = (await relevantPods(view, o)).flatMap((p) =>
      recentRestarts(p, since).map(
        (r) => `${p.metadata?.name}/${r.container}: ${r.count} restarts, last ${Math.round((Date.now() - r.lastAt) / 1000)} s ago (${r.reason})`,
      ),
    )
    if (hits.length) return { status: 'warn', detail: list(hits) }
    return { status: 'pass', detail: `no restarts since ${new Date(since).toISOString().slice(11, 16)} UTC` }
  })
}

/**
 * Plan 8.2 `kubectl get hpa`: every scalable service has an HPA, and the HPA reads its metrics.
 * Whether it does is judged by `judgeHpaMetrics` alone (reading / not yet / broken), the same for
 * `autolytiq verify` and the deploy's verify.all, which waits out "not yet" (data.hpas).
 */
export function hpaCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.hpa', 'HorizontalPodAutoscalers present with current metrics', o, async (ctx) => {
    const hpas = await view.hpas()
    const now = Date.now()
    const missing: string[] = []
    const verdicts: HpaMetricsVerdict[] = []
    for (const s of o.services.filter((x) => x.replicas && x.replicas.max > x.replicas.min)) {
      const h = hpas.find((x) => x.spec?.scaleTargetRef?.kind === 'Deployment' && x.spec.scaleTargetRef.name === s.name)
      if (h) verdicts.push(judgeHpaMetrics(h, now, ctx.env.hpaMetricsGraceSeconds))
      else missing.push(s.name)
    }
    const data = { hpas: verdicts }
    if (missing.length) return { status: 'fail', detail: `no HPA for ${missing.join(', ')}`, data }
    const broken = verdicts.filter((v) => v.verdict === 'broken')
    const notYet = verdicts.filter((v) => v.verdict === 'not-yet')
    if (broken.length) {
      // EKS ships no metrics-server; the runbook's helm.metrics-server installs it
      const next = broken.some((v) => v.noMetricsApi) ? ` — install it: autolytiq deploy --env ${ctx.envName} --only helm.metrics-server` : ''
      return { status: 'warn', detail: list([...broken, ...notYet].map(describeHpaMetrics)) + next, data }
    }
    if (notYet.length) return { status: 'warn', detail: list(notYet.map(describeHpaMetrics)), data }
    return { status: 'pass', detail: `${hpas.length} HPA(s), all reading metrics`, data }
  })
}

/** Plan 8.2 `kubectl get pdb`: a PDB per service, and one that lets a node drain proceed. */
export function pdbCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.pdb', 'PodDisruptionBudgets in place and allowing disruptions', o, async () => {
    const [pdbs, deps] = await Promise.all([view.pdbs(), view.deployments().then(byName)])
    const missing: string[] = []
    const blocking: string[] = []
    for (const s of o.services) {
      const labels = deps.get(s.name)?.spec?.template?.metadata?.labels
      const pdb = pdbs.find((p) => selects(p.spec?.selector?.matchLabels, labels))
      if (!pdb) {
        missing.push(s.name)
        continue
      }
      const st = pdb.status
      if (!st || st.observedGeneration === undefined) blocking.push(`${pdb.metadata?.name}: not evaluated yet by the disruption controller`)
      else if ((st.disruptionsAllowed ?? 0) < 1)
        blocking.push(`${pdb.metadata?.name}: allows 0 disruptions (${st.currentHealthy}/${st.desiredHealthy} healthy) — node drains will block`)
    }
    if (missing.length) return { status: 'fail', detail: `no PodDisruptionBudget covers ${missing.join(', ')}` }
    if (blocking.length) return { status: 'warn', detail: list(blocking) }
    return { status: 'pass', detail: `${o.services.length} service(s) covered, all allow at least one disruption` }
  })
}

/** Plan 8.2 `kubectl get events | tail`: recent Warning events, most frequent first. */
export function eventsCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.events', `No Warning events in the last ${o.windowMinutes} min`, o, async () => {
    const since = Date.now() - o.windowMinutes * 60_000
    const names = o.services.map((s) => s.name)
    const warnings = (await view.events()).filter((e) => {
      if (e.type !== 'Warning') return false
      const at = time(e.lastTimestamp) ?? time(e.eventTime as unknown as string) ?? time(e.metadata?.creationTimestamp) ?? 0
      if (at < since) return false
      const obj = e.involvedObject?.name ?? ''
      return !o.narrowed || names.some((n) => obj === n || obj.startsWith(`${n}-`))
    })
    if (!warnings.length) return { status: 'pass', detail: 'none' }
    const sorted = [...warnings].sort((a, b) => (b.count ?? 1) - (a.count ?? 1))
    const text = sorted.map(
      (e) => `${e.reason} ×${e.count ?? 1} ${e.involvedObject?.kind?.toLowerCase()}/${e.involvedObject?.name}: ${(e.message ?? '').slice(0, 100)}`,
    )
    return { status: 'warn', detail: `${warnings.length} Warning event(s): ${list(text, 3)}` }
  })
}

/** Checklist "All EKS nodes are healthy": Ready, and no resource pressure. */
export function nodesCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.nodes', 'Nodes Ready without pressure', o, async () => {
    const nodes = await view.nodes()
    if (!nodes.length) return { status: 'fail', detail: 'the cluster has no nodes' }
    const notReady: string[] = []
    const pressure: string[] = []
    for (const n of nodes) {
      const conds = n.status?.conditions ?? []
      const ready = conds.find((c) => c.type === 'Ready')
      if (ready?.status !== 'True') notReady.push(`${n.metadata?.name} (${ready?.reason ?? 'no Ready condition'})`)
      for (const c of conds) if (c.type.endsWith('Pressure') && c.status === 'True') pressure.push(`${n.metadata?.name}: ${c.type}`)
      if (n.spec?.unschedulable) pressure.push(`${n.metadata?.name}: cordoned`)
    }
    if (notReady.length) return { status: 'fail', detail: `not Ready: ${list(notReady)}` }
    if (pressure.length) return { status: 'warn', detail: list(pressure) }
    return { status: 'pass', detail: `${nodes.length} node(s) Ready` }
  })
}

/**
 * Checklist "No pending PersistentVolumeClaims", in the app's namespace and in monitoring (whose
 * Prometheus claim is the one that never binds on an EKS 1.30+ cluster without a StorageClass).
 */
export function pvcCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.pvcs', 'No pending PersistentVolumeClaims', o, async (ctx) => {
    const monitoring = new KubeView(ctx, MONITORING_NAMESPACE)
    const pvcs = [...(await view.pvcs()), ...(await monitoring.pvcs())]
    const unbound = pvcs.filter((p) => p.status?.phase !== 'Bound')
    const pending = unbound.map(
      (p) =>
        `${p.metadata?.namespace}/${p.metadata?.name} (${p.status?.phase ?? 'no status'}${p.spec?.storageClassName ? `, class ${p.spec.storageClassName}` : ', no StorageClass'})`,
    )
    if (pending.length) {
      const classless = unbound.some((p) => !p.spec?.storageClassName)
      const next = classless ? ` — EKS 1.30+ has no default StorageClass: autolytiq deploy --env ${ctx.envName} --only k8s.storage-class` : ''
      return { status: 'fail', detail: `not bound: ${list(pending)}${next}` }
    }
    return { status: 'pass', detail: `${pvcs.length} claim(s) in ${view.namespace} and ${MONITORING_NAMESPACE}, all Bound` }
  })
}

/**
 * Checklist "Network policies applied (if using)": absence is worth a warning, not a failure. On
 * EKS a NetworkPolicy does nothing unless the VPC CNI's network policy agent is on (the vpc-cni
 * add-on's enableNetworkPolicy, which makes aws-node run aws-network-policy-agent with
 * --enable-network-policy=true): objects that nothing enforces are not "applied".
 */
export function networkPoliciesCheck(view: KubeView, o: KubeCheckOptions): Check {
  return kubeCheck('k8s.network-policies', 'NetworkPolicies applied', o, async (ctx) => {
    const n = (await view.networkPolicies()).length
    if (!n) return { status: 'warn', detail: `no NetworkPolicy in ${view.namespace}: every pod can reach every other (the plan marks them optional)` }
    const enforcement = await vpcCniPolicyAgent(ctx)
    if (enforcement === 'off')
      return {
        status: 'fail',
        detail: `${n} NetworkPolicy object(s) in ${view.namespace}, but NOT enforced: the VPC CNI's network policy agent is off (aws-node without --enable-network-policy=true) — set enableNetworkPolicy in the vpc-cni add-on's configuration (terraform) and apply`,
      }
    if (enforcement === 'no-vpc-cni')
      return {
        status: 'warn',
        detail: `${n} NetworkPolicy object(s) in ${view.namespace}; no aws-node DaemonSet (not the VPC CNI): enforcement depends on this cluster's CNI`,
      }
    return { status: 'pass', detail: `${n} NetworkPolicy object(s) in ${view.namespace}, enforced by the VPC CNI network policy agent` }
  })
}

/** Is the VPC CNI's network policy agent enabled (kube-system/aws-node)? */
async function vpcCniPolicyAgent(ctx: Context): Promise<'on' | 'off' | 'no-vpc-cni'> {
  let ds
  try {
    ds = await (await ctx.clients.kube.apps()).readNamespacedDaemonSet({ name: 'aws-node', namespace: 'kube-system' })
  } catch (err) {
    if ((err as { code?: number }).code === 404) return 'no-vpc-cni'
    throw err
  }
  const agent = ds.spec?.template.spec?.containers.find((c) => c.name === 'aws-network-policy-agent')
  return agent?.args?.includes('--enable-network-policy=true') ? 'on' : 'off'
}

export function kubeChecks(ctx: Context, o: KubeCheckOptions): Check[] {
  const view = new KubeView(ctx, ctx.env.namespace)
  return [deploymentsCheck, podsCheck, restartsCheck, hpaCheck, pdbCheck, eventsCheck, nodesCheck].map((make) => make(view, o))
}
