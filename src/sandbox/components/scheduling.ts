import type { V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node'

/**
 * The part of kube-scheduler the sandbox needs (there is no scheduler binary here: the node
 * simulator binds pods): the filters NodeResourcesFit (requested CPU, memory and pod count
 * against allocatable), TaintToleration (NoSchedule/NoExecute) and NodeAffinity (nodeSelector and
 * required node affinity with In/NotIn/Exists/DoesNotExist), then a score that honours preferred
 * node affinity and spreads by least requested CPU. A pod that fits nowhere gets
 * kube-scheduler's own message: "0/3 nodes are available: 1 node(s) had untolerated taint
 * {workload: database}, 2 Insufficient cpu. preemption: ...".
 */

export interface SchedNode {
  name: string
  labels: Record<string, string>
  taints: V1Taint[]
  allocatable: { cpu: number; memory: number; pods: number }
}

export interface Requests {
  cpu: number
  memory: number
}

const UNITS: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }

/** A Kubernetes quantity ('250m', '1', '256Mi', '1.5Gi') as a number (cores, bytes). */
export function quantity(q: string | number | undefined): number {
  if (q === undefined) return 0
  if (typeof q === 'number') return q
  const m = /^([+-]?[\d.]+(?:e[+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim())
  const f = m ? UNITS[m[2] ?? ''] : undefined
  if (!m || f === undefined) throw new Error(`not a Kubernetes quantity: ${q}`)
  return Number(m[1]) * f
}

/** What the scheduler reserves for a pod: the containers' requests, or the largest init container's. */
export function podRequests(pod: V1Pod): Requests {
  const sum = (cs: { resources?: { requests?: Record<string, string> } }[] | undefined): Requests =>
    (cs ?? []).reduce((acc, c) => ({ cpu: acc.cpu + quantity(c.resources?.requests?.cpu), memory: acc.memory + quantity(c.resources?.requests?.memory) }), {
      cpu: 0,
      memory: 0,
    })
  const main = sum(pod.spec?.containers)
  const init = (pod.spec?.initContainers ?? []).map((c) => sum([c]))
  return {
    cpu: Math.max(main.cpu, ...init.map((i) => i.cpu)),
    memory: Math.max(main.memory, ...init.map((i) => i.memory)),
  }
}

function tolerates(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false
    if (!t.key) return t.operator === 'Exists'
    if (t.key !== taint.key) return false
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '')
  })
}

interface Requirement {
  key: string
  operator: string
  values?: string[]
}

function matches(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key]
  switch (r.operator) {
    case 'In':
      return v !== undefined && (r.values ?? []).includes(v)
    case 'NotIn':
      return v === undefined || !(r.values ?? []).includes(v)
    case 'Exists':
      return v !== undefined
    case 'DoesNotExist':
      return v === undefined
    default:
      return false // Gt/Lt: not used by the project's manifests
  }
}

function affinityOk(pod: V1Pod, labels: Record<string, string>): boolean {
  const selector = pod.spec?.nodeSelector ?? {}
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) return false
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
  if (!terms?.length) return true
  return terms.some((t) => (t.matchExpressions ?? []).every((e) => matches(labels, e)))
}

function preferenceScore(pod: V1Pod, labels: Record<string, string>): number {
  const prefs = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []
  return prefs.filter((p) => (p.preference.matchExpressions ?? []).every((e) => matches(labels, e))).reduce((n, p) => n + p.weight, 0)
}

export type Placement = { node: string } | { unschedulable: string }

/**
 * Where `pod` goes, given what is already requested on each node (`used`), or kube-scheduler's
 * FailedScheduling message when no node passes the filters.
 */
export function place(pod: V1Pod, nodes: SchedNode[], used: Map<string, Requests & { pods: number }>): Placement {
  const want = podRequests(pod)
  const tolerations = pod.spec?.tolerations ?? []
  const reasons = new Map<string, number>()
  const count = (r: string): void => void reasons.set(r, (reasons.get(r) ?? 0) + 1)
  const fit: SchedNode[] = []
  for (const n of nodes) {
    const untolerated = n.taints.find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(tolerations, t))
    if (untolerated) {
      count(`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`)
      continue
    }
    if (!affinityOk(pod, n.labels)) {
      count("node(s) didn't match Pod's node affinity/selector")
      continue
    }
    const u = used.get(n.name) ?? { cpu: 0, memory: 0, pods: 0 }
    const short: string[] = []
    if (u.pods + 1 > n.allocatable.pods) short.push('Too many pods')
    if (u.cpu + want.cpu > n.allocatable.cpu + 1e-9) short.push('Insufficient cpu')
    if (u.memory + want.memory > n.allocatable.memory) short.push('Insufficient memory')
    if (short.length) {
      short.forEach(count)
      continue
    }
    fit.push(n)
  }
  if (fit.length) {
    const score = (n: SchedNode): number => preferenceScore(pod, n.labels) * 1000 - ((used.get(n.name)?.cpu ?? 0) + want.cpu) / n.allocatable.cpu
    const best = fit.reduce((a, b) => (score(b) > score(a) ? b : a))
    return { node: best.name }
  }
  const text = [...reasons.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([r, n]) => `${n} ${r}`)
    .join(', ')
  return {
    unschedulable: `0/${nodes.length} nodes are available: ${text}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`,
  }
}

/** Requests already placed on each node: pods bound there that are not finished. */
export function usage(pods: V1Pod[]): Map<string, Requests & { pods: number }> {
  const used = new Map<string, Requests & { pods: number }>()
  for (const p of pods) {
    const node = p.spec?.nodeName
    if (!node || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue
    const r = podRequests(p)
    const u = used.get(node) ?? { cpu: 0, memory: 0, pods: 0 }
    used.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 })
  }
  return used
}
