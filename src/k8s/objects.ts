import { parseAllDocuments } from 'yaml'
import { ExternalError } from '../engine/errors.js'

/** A Kubernetes object as manifests describe it: enough shape to route, name and compare it. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    [key: string]: unknown
  }
  [key: string]: unknown
}

/**
 * Kinds kustomize gives a namespace although they have none. kustomize knows the built-in ones
 * but not CRDs (ClusterSecretStore), and the API server refuses a namespace on them.
 */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'ClusterSecretStore',
  'ClusterExternalSecret',
  'IngressClass',
  'StorageClass',
  'PriorityClass',
  'PersistentVolume',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
])

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind)
}

/** 'Deployment autolytiq-prod/api-gateway' — how objects are named in progress, plans and errors. */
export function objectRef(o: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const ns = o.metadata.namespace
  return `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata.name}`
}

/** Parses multi-document YAML (kustomize output) into objects; empty documents are skipped. */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new ExternalError(`${source} produced invalid YAML: ${doc.errors[0]!.message}`)
    const value = doc.toJS() as KubeObject | null
    if (!value) continue
    if (!value.kind || !value.apiVersion || !value.metadata?.name)
      throw new ExternalError(`${source} produced an object without apiVersion, kind or metadata.name: ${JSON.stringify(value).slice(0, 200)}`)
    if (isClusterScoped(value.kind)) delete value.metadata.namespace
    objects.push(value)
  }
  return objects
}

/**
 * The order Helm installs kinds in: what others refer to comes first (namespaces, accounts,
 * config), workloads next, what routes to them last. Within a rank the manifest order is kept.
 */
const APPLY_ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'ServiceAccount',
  'ClusterSecretStore',
  'ExternalSecret',
  'Secret',
  'ConfigMap',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'Deployment',
  'CronJob',
  'Job',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'Ingress',
]

export function applyRank(kind: string): number {
  const i = APPLY_ORDER.indexOf(kind)
  return i === -1 ? APPLY_ORDER.length : i
}

export function sortForApply<T extends Pick<KubeObject, 'kind'>>(objects: T[]): T[] {
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => applyRank(a.o.kind) - applyRank(b.o.kind) || a.i - b.i)
    .map((x) => x.o)
}
