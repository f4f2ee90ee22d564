/**
 * Field-level differences between a live object and the object a server-side dry-run apply
 * returns: what `autolytiq deploy --dry-run` prints and what makes a step "drift". Pure functions.
 */

/** Fields the API server changes on every write or that say nothing about intent. */
const VOLATILE_METADATA = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink']

const CONTROLLER_REVISION = 'deployment.kubernetes.io/revision'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export interface DiffOptions {
  /** Hide values under these top-level keys (a Secret's data): show only which keys change. */
  hideValuesUnder?: string[]
  /** Stop after this many lines. */
  maxLines?: number
}

/** Without volatile metadata and status: only what an apply can change. */
export function comparable(obj: unknown): Json {
  const o = structuredClone(obj) as { [k: string]: Json } & { metadata?: { [k: string]: Json } }
  if (o.metadata) for (const k of VOLATILE_METADATA) delete o.metadata[k]
  // The Deployment controller's own bookkeeping: it may bump between the live read and the
  // server-side dry-run, and no manifest ever sets it.
  const annotations = o.metadata?.annotations as { [k: string]: Json } | undefined
  if (annotations) delete annotations[CONTROLLER_REVISION]
  delete o.status
  return o
}

/** Lines like `~ spec.replicas: 2 → 3`, `+ metadata.labels.tier: "web"`, `- spec.paused`. */
export function diffObjects(live: unknown, desired: unknown, opts: DiffOptions = {}): string[] {
  const out: string[] = []
  const max = opts.maxLines ?? 40
  walk(comparable(live), comparable(desired), '', out, opts.hideValuesUnder ?? [])
  if (out.length > max) return [...out.slice(0, max), `… ${out.length - max} more change(s)`]
  return out
}

function walk(a: Json | undefined, b: Json | undefined, path: string, out: string[], hidden: string[]): void {
  if (deepEqual(a, b)) return
  const top = path.split(/[.[]/)[0] ?? ''
  const hide = hidden.includes(top)
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[k], b[k], join(path, k), out, hidden)
    return
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => walk(v, b[i], `${path}[${i}]`, out, hidden))
    return
  }
  if (a === undefined) out.push(`+ ${path}: ${hide ? '(value hidden)' : show(b)}`)
  else if (b === undefined) out.push(`- ${path}`)
  else out.push(`~ ${path}: ${hide ? '(value hidden)' : `${show(a)} → ${show(b)}`}`)
}

function join(path: string, key: string): string {
  const safe = /^[A-Za-z_][\w-]*$/.test(key) ? key : `[${JSON.stringify(key)}]`
  if (!path) return safe
  return safe.startsWith('[') ? `${path}${safe}` : `${path}.${safe}`
}

function show(v: Json | undefined): string {
  const s = JSON.stringify(v) ?? 'undefined'
  return s.length > 100 ? `${s.slice(0, 97)}...` : s
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]))
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

/** The field set one manager owns (managedFields), without timestamps: did an apply move ownership? */
export function ownedFields(obj: unknown, manager: string): unknown {
  const entries = ((obj as { metadata?: { managedFields?: { manager?: string; operation?: string; fieldsV1?: unknown }[] } })?.metadata?.managedFields ?? []).filter(
    (m) => m.manager === manager && m.operation === 'Apply',
  )
  return entries.map((m) => m.fieldsV1)
}

type ManagedEntry = { manager?: string; operation?: string; fieldsV1?: unknown }

function managedFields(obj: unknown): ManagedEntry[] {
  return (obj as { metadata?: { managedFields?: ManagedEntry[] } })?.metadata?.managedFields ?? []
}

/** The leaf paths of a managedFields fieldsV1 tree ("f:spec/f:replicas", "f:metadata/f:labels/f:app"...). */
export function fieldPaths(fieldsV1: unknown, prefix = ''): string[] {
  if (!isObject(fieldsV1)) return []
  const keys = Object.keys(fieldsV1).filter((k) => k !== '.')
  if (keys.length === 0) return [prefix]
  return keys.flatMap((k) => fieldPaths(fieldsV1[k], prefix ? `${prefix}/${k}` : k))
}

/**
 * Fields an apply by `manager` would newly own that no write of `manager` owns today (kubectl
 * edit, another controller): the ownership changes worth reporting. Fields autolytiq already
 * holds through its own updates (a rollback's patch) are not: that is ownership alone.
 */
export function fieldsTakenFromOthers(live: unknown, dry: unknown, manager: string): string[] {
  const appliedLive = new Set(managedFields(live).filter((m) => m.manager === manager && m.operation === 'Apply').flatMap((m) => fieldPaths(m.fieldsV1)))
  const ownLive = new Set(managedFields(live).filter((m) => m.manager === manager).flatMap((m) => fieldPaths(m.fieldsV1)))
  const appliedDry = managedFields(dry).filter((m) => m.manager === manager && m.operation === 'Apply').flatMap((m) => fieldPaths(m.fieldsV1))
  return appliedDry.filter((p) => !appliedLive.has(p) && !ownLive.has(p))
}
