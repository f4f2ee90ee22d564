import type { KubeObject } from './objects.js'

/**
 * What an ExternalSecret (external-secrets.io/v1) reads from its store and writes to its target
 * Secret, as the upstream operator interprets the fields this project uses: `data` (one property,
 * or the whole value without one), `dataFrom.extract` (every property of a secret) and
 * `target.template` (keys composed from the `data` values; with mergePolicy Replace, the default,
 * only the template's keys reach the Secret). One reading of the manifests for the secret contract
 * test, `secrets.expected` (phase 3) and `k8s.external-secrets` (phase 5).
 */
export interface ExternalSecretSpec {
  target?: {
    name?: string
    template?: { mergePolicy?: string; data?: Record<string, string> }
  }
  data?: { secretKey: string; remoteRef: { key: string; property?: string } }[]
  dataFrom?: { extract?: { key: string; property?: string } }[]
}

export type ExternalSecretObject = KubeObject & { spec: ExternalSecretSpec }

/** One remote value an ExternalSecret needs: property undefined = the whole secret (or all its properties, dataFrom). */
export interface RemoteRead {
  externalSecret: string
  remoteKey: string
  property?: string
  /** dataFrom.extract: every property of the secret becomes a key. */
  wholeSecret?: boolean
}

export function externalSecretsOf(objects: KubeObject[]): ExternalSecretObject[] {
  return objects.filter((o) => o.kind === 'ExternalSecret') as ExternalSecretObject[]
}

export function remoteReads(es: ExternalSecretObject): RemoteRead[] {
  const name = es.metadata.name
  return [
    ...(es.spec.data ?? []).map((d) => ({ externalSecret: name, remoteKey: d.remoteRef.key, property: d.remoteRef.property })),
    ...(es.spec.dataFrom ?? []).flatMap((d) => (d.extract ? [{ externalSecret: name, remoteKey: d.extract.key, property: d.extract.property, wholeSecret: true }] : [])),
  ]
}

/** The `.name` fields a template value uses (engine v2: each `data` secretKey is a top-level field). */
export function templateInputs(template: string): string[] {
  const actions = [...template.matchAll(/\{\{(.*?)\}\}/gs)].map((m) => m[1]!.replace(/"(?:[^"\\]|\\.)*"/g, '""'))
  return [...new Set(actions.flatMap((a) => [...a.matchAll(/(?<![\w)\]])\.([A-Za-z_]\w*)/g)].map((m) => m[1]!)))]
}

/** The keys of the Secret the operator writes (values never needed). */
export function targetKeys(es: ExternalSecretObject): string[] {
  const template = es.spec.target?.template
  const dataKeys = (es.spec.data ?? []).map((d) => d.secretKey)
  if (!template?.data) return dataKeys
  const templated = Object.keys(template.data)
  return (template.mergePolicy ?? 'Replace') === 'Merge' ? [...new Set([...dataKeys, ...templated])] : templated
}

export const targetName = (es: ExternalSecretObject): string => es.spec.target?.name ?? es.metadata.name
