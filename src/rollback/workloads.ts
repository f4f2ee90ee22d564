import { hostname, userInfo } from 'node:os'
import type * as k8s from '@kubernetes/client-node'
import { ExternalError, UserError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import { FIELD_MANAGER, apiMessage, apiStatus } from '../k8s/api.js'

/** Annotations kubectl never copies between a Deployment and its ReplicaSets (kubectl's `annotationsToSkip`). */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.daemonset.template.generation',
])
export const CHANGE_CAUSE = 'kubernetes.io/change-cause'
/** What the last autolytiq rollback of this Deployment did (JSON): guards against undoing an undo by accident. */
export const ROLLBACK_ANNOTATION = 'autolytiq.io/rollback'
const POD_TEMPLATE_HASH = 'pod-template-hash'

export type Images = Record<string, string>
export type JsonPatchOp = { op: 'test' | 'replace' | 'add' | 'remove'; path: string; value?: unknown }

/**
 * One planned change to one workload: what --dry-run prints, what the audit log records and what
 * apply() sends. `noop` says why nothing needs to change (already at the target).
 */
export interface WorkloadChange {
  service: string
  kind: 'Deployment' | 'CronJob'
  namespace: string
  action: 'undo' | 'image-tag' | 'restore'
  fromRevision?: number
  /** The revision whose template is restored (it becomes the newest revision once applied). */
  toRevision?: number
  before: Images
  after: Images
  /** Deployment spec.replicas when planned (recorded in the rollback point). */
  replicas?: number
  noop?: string
  /** The exact API call, for --dry-run. */
  call: string
  /** JSON patch sent by apply(); guarded by a `test` of metadata.generation. */
  patch: JsonPatchOp[]
}

/** Container name -> image, in template order. */
export function imagesOf(spec: k8s.V1PodSpec | undefined): Images {
  return Object.fromEntries((spec?.containers ?? []).map((c) => [c.name, c.image ?? '']))
}

export function sameImages(a: Images, b: Images): boolean {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k])
}

export function revisionOf(meta: k8s.V1ObjectMeta | undefined): number | undefined {
  const v = meta?.annotations?.[REVISION_ANNOTATION]
  const n = v === undefined ? NaN : Number(v)
  return Number.isInteger(n) ? n : undefined
}

/** Plain JSON (the client's model classes hold Dates and undefined fields): what the API server sees. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T
}

/** Canonical JSON with sorted keys, so two templates compare equal whatever the field order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  )
}

/** A ReplicaSet's pod template without the pod-template-hash label the controller adds (kubectl does the same). */
export function templateWithoutHash(t: k8s.V1PodTemplateSpec | undefined): k8s.V1PodTemplateSpec {
  const copy = plain(t ?? {})
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH]
  }
  return copy
}

/** kubectl's equalIgnoreHash: the same pod template apart from the pod-template-hash label. */
export function templatesEqual(a: k8s.V1PodTemplateSpec | undefined, b: k8s.V1PodTemplateSpec | undefined): boolean {
  return canonical(templateWithoutHash(a)) === canonical(templateWithoutHash(b))
}

/** Deployment annotations after restoring `rs`: kubectl keeps the skipped ones and takes the rest from the ReplicaSet. */
export function annotationsForRestore(deployment: k8s.V1Deployment, rs: k8s.V1ReplicaSet): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(deployment.metadata?.annotations ?? {})) if (ANNOTATIONS_TO_SKIP.has(k)) out[k] = v
  for (const [k, v] of Object.entries(rs.metadata?.annotations ?? {})) if (!ANNOTATIONS_TO_SKIP.has(k)) out[k] = v
  return out
}

/** JSON-pointer escaping of one path segment (`kubernetes.io/change-cause` -> `kubernetes.io~1change-cause`). */
export function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** Guards a patch: it applies only if nobody changed the spec since we read it (status updates do not count). */
export function generationGuard(obj: { metadata?: k8s.V1ObjectMeta }): JsonPatchOp {
  return { op: 'test', path: '/metadata/generation', value: obj.metadata?.generation }
}

/** Patch ops that set annotations on an object that may have none yet. */
export function setAnnotations(obj: { metadata?: k8s.V1ObjectMeta }, values: Record<string, string>): JsonPatchOp[] {
  if (!obj.metadata?.annotations) return [{ op: 'add', path: '/metadata/annotations', value: values }]
  return Object.entries(values).map(([k, v]) => ({ op: 'add' as const, path: `/metadata/annotations/${pointer(k)}`, value: v }))
}

/**
 * Who did what, for `kubectl rollout history` (CHANGE-CAUSE column) and verify's "what changed":
 * the Deployment controller copies it onto the ReplicaSet it creates or re-activates. It names the
 * images it was written for, so a later change by another tool (which leaves the annotation as it
 * was) is never credited to this person: see `changedBy`.
 */
export function changeCause(ctx: Context, what: string, images: Images): string {
  return `autolytiq rollback by ${userInfo().username}@${hostname()} (${ctx.envName}, run ${ctx.runId}): ${what} → ${Object.values(images).join(', ')}`
}

/** The person of an autolytiq change-cause, when it was written for exactly these images; else undefined. */
export function changedBy(cause: string | undefined, images: string): string | undefined {
  const m = /^autolytiq [\w -]+ by (\S+@\S+) \([^)]*\): .* → (.+)$/.exec(cause ?? '')
  return m && m[2] === images ? m[1] : undefined
}

export async function readDeployment(ctx: Context, namespace: string, name: string): Promise<k8s.V1Deployment> {
  const apps = await ctx.clients.kube.apps()
  try {
    return await apps.readNamespacedDeployment({ name, namespace })
  } catch (err) {
    if (apiStatus(err) === 404)
      throw new UserError(
        `Deployment ${name} not found in namespace ${namespace}; nothing was changed`,
        `is ${name} deployed to ${ctx.envName}? \`kubectl -n ${namespace} get deployments\` lists what is there`,
      )
    throw err
  }
}

export async function readCronJob(ctx: Context, namespace: string, name: string): Promise<k8s.V1CronJob> {
  const batch = await ctx.clients.kube.batch()
  try {
    return await batch.readNamespacedCronJob({ name, namespace })
  } catch (err) {
    if (apiStatus(err) === 404)
      throw new UserError(
        `CronJob ${name} not found in namespace ${namespace}; nothing was changed`,
        `is ${name} deployed to ${ctx.envName}? \`kubectl -n ${namespace} get cronjobs\` lists what is there`,
      )
    throw err
  }
}

/** The ReplicaSets a Deployment controls (owner reference with its uid), oldest revision first. */
export async function replicaSetsOf(ctx: Context, deployment: k8s.V1Deployment): Promise<k8s.V1ReplicaSet[]> {
  const apps = await ctx.clients.kube.apps()
  const namespace = deployment.metadata!.namespace!
  const labels = deployment.spec?.selector?.matchLabels ?? {}
  const labelSelector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const list = await apps.listNamespacedReplicaSet({ namespace, labelSelector: labelSelector || undefined })
  return list.items
    .filter((rs) => (rs.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === deployment.metadata?.uid))
    .sort((a, b) => (revisionOf(a.metadata) ?? 0) - (revisionOf(b.metadata) ?? 0))
}

/** Sends a planned change. A failed generation test means someone changed the workload meanwhile. */
export async function applyChange(ctx: Context, change: WorkloadChange): Promise<void> {
  if (change.noop) return
  const lib = await ctx.clients.kube.lib()
  const opts = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.JsonPatch)
  try {
    if (change.kind === 'CronJob') {
      const batch = await ctx.clients.kube.batch()
      await batch.patchNamespacedCronJob({ name: change.service, namespace: change.namespace, body: change.patch, fieldManager: FIELD_MANAGER }, opts)
    } else {
      const apps = await ctx.clients.kube.apps()
      await apps.patchNamespacedDeployment({ name: change.service, namespace: change.namespace, body: change.patch, fieldManager: FIELD_MANAGER }, opts)
    }
  } catch (err) {
    const message = apiMessage(err)
    // A failed `test` op is a bare 422; a rejected object says "... is invalid: <field>: <why>".
    if (apiStatus(err) === 422 && !/ is invalid/.test(message))
      throw new UserError(
        `${change.kind} ${change.service} changed while this rollback was being prepared (someone deployed or scaled it); it was not modified`,
        're-run the same command: it reads the current state again',
      )
    throw new ExternalError(`the API server refused to change ${change.kind} ${change.service}: ${message}`, change.call)
  }
}
