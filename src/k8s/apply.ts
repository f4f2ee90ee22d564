import type { KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node'
import type { KubeClients } from '../clients/kube.js'
import { AutolytiqError, ExternalError, UserError, isTransient } from '../engine/errors.js'
import { FIELD_MANAGER, apiMessage, apiStatus } from './api.js'
import { diffObjects, fieldsTakenFromOthers } from './diff.js'
import { applyRank, objectRef, sortForApply, type KubeObject } from './objects.js'

export { FIELD_MANAGER }

export interface ObjectChange {
  ref: string
  object: KubeObject
  action: 'create' | 'update' | 'unchanged'
  /** Field-level differences (update), values of Secrets hidden. */
  diff: string[]
  /** Why the server could not validate it yet (namespace or CRD not there before earlier steps run). */
  note?: string
}

const SSA = 'application/apply-patch+yaml'
const CONCURRENCY = 8

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

function header(o: KubeObject): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } }
}

/** The client's discovery found no such kind: its CRD is not installed (yet). */
function kindNotServed(err: unknown): boolean {
  return /Unrecognized API version and kind|Failed to fetch resource metadata/.test(String((err as Error)?.message))
}

async function readLive(api: KubernetesObjectApi, o: KubeObject): Promise<KubernetesObject | undefined> {
  try {
    return await api.read(header(o))
  } catch (err) {
    if (apiStatus(err) === 404 || kindNotServed(err)) return undefined
    // Already one clear message with its exit code and next step (rejected credentials: exit 2;
    // server unreachable: clients/kube.ts). Wrapping it made a bad token exit 1 with no next step.
    if (err instanceof AutolytiqError) throw err
    throw new ExternalError(`cannot read ${objectRef(o)}: ${apiMessage(err)}`)
  }
}

/** Not yet validatable: its namespace or its CRD is created by an earlier step of the same run. */
function notYetValidatable(err: unknown): string | undefined {
  if (kindNotServed(err)) return 'its CRD is not installed yet'
  const ns = /namespaces? "([^"]+)" not found/.exec(apiMessage(err))
  if (apiStatus(err) === 404 && ns) return `namespace ${ns[1]} does not exist yet`
  return undefined
}

/**
 * What a server-side apply of `objects` would change, without changing anything: each object is
 * applied with dryRun=All (so defaulting, admission and validation run on the real API server)
 * and compared with the live object. This is `--dry-run`'s diff and every apply step's check().
 */
export async function planApply(kube: KubeClients, objects: KubeObject[]): Promise<ObjectChange[]> {
  const api = await kube.objects()
  return pool(objects, CONCURRENCY, async (object): Promise<ObjectChange> => {
    const ref = objectRef(object)
    const live = await readLive(api, object)
    let dry: KubernetesObject
    try {
      dry = await api.patch(structuredClone(object), undefined, 'All', FIELD_MANAGER, true, SSA)
    } catch (err) {
      const note = live ? undefined : notYetValidatable(err)
      if (note) return { ref, object, action: 'create', diff: [], note }
      const message = `server-side dry-run apply of ${ref} was refused: ${apiMessage(err)}`
      // The API server's schema (a CRD's, e.g. the External Secrets Operator's) has no such field: the manifest is wrong, not the cluster.
      if (/field not declared in schema|unknown field/.test(message))
        throw new ExternalError(message, undefined, undefined, false, `fix ${ref.split(' ')[0]} ${object.metadata.name} in the manifests (k8s/): a misspelled field, or one the installed ${object.apiVersion} schema does not have; then re-run`)
      // A reset or a timeout on the way (transient, already translated by the kube client) stays
      // transient, so the runner retries the step instead of failing the run.
      throw new ExternalError(message, undefined, undefined, isTransient(err))
    }
    if (!live) return { ref, object, action: 'create', diff: [] }
    const diff = diffObjects(live, dry, { hideValuesUnder: object.kind === 'Secret' ? ['data', 'stringData'] : [] })
    if (diff.length) return { ref, object, action: 'update', diff }
    // Same content, but the apply would take over fields another manager owns (kubectl edit...):
    // apply it, so a later removal from the manifests removes the field too. Fields autolytiq's
    // own writes hold (a rollback patches with the same field manager) are not a change.
    const taken = fieldsTakenFromOthers(live, dry, FIELD_MANAGER)
    if (taken.length)
      return { ref, object, action: 'update', diff: [`(no value changes; autolytiq takes ownership of ${taken.length} field(s) it declares from another field manager)`] }
    return { ref, object, action: 'unchanged', diff: [] }
  })
}

/**
 * Server-side apply (field manager `autolytiq`, conflicts forced: the manifests are the source of
 * truth) of the objects `planApply` found changed, kind by kind in dependency order. Objects that
 * would not change are not written, so a re-run makes no API writes and bumps no resourceVersion.
 */
export async function applyObjects(kube: KubeClients, objects: KubeObject[], opts: { log?: (m: string) => void } = {}): Promise<ObjectChange[]> {
  const api = await kube.objects()
  const plan = await planApply(kube, sortForApply(objects))
  const todo = plan.filter((c) => c.action !== 'unchanged')
  const ranks = [...new Set(todo.map((c) => applyRank(c.object.kind)))].sort((a, b) => a - b)
  for (const rank of ranks) {
    await pool(
      todo.filter((c) => applyRank(c.object.kind) === rank),
      CONCURRENCY,
      async (c) => {
        try {
          await api.patch(structuredClone(c.object), undefined, undefined, FIELD_MANAGER, true, SSA)
        } catch (err) {
          if (kindNotServed(err))
            throw new UserError(
              `cannot apply ${c.ref}: the cluster does not serve ${c.object.apiVersion} ${c.object.kind} (its CRD is not installed)`,
              c.object.apiVersion.startsWith('external-secrets.io') ? `install the External Secrets operator first: \`autolytiq deploy --env ${kube.settings.envName ?? '<env>'} --only helm.external-secrets\`` : 'install the CRD first',
            )
          throw new ExternalError(`server-side apply of ${c.ref} failed: ${apiMessage(err)}`, undefined, undefined, apiStatus(err) === 429 || (apiStatus(err) ?? 0) >= 500)
        }
        opts.log?.(`${c.action === 'create' ? 'created' : 'updated'} ${c.ref}`)
      },
    )
  }
  return plan
}

/** The plan as lines for --dry-run: `+ create`, `~ update` with field diffs, and a count of the rest. */
export function renderPlan(changes: ObjectChange[]): string[] {
  const lines: string[] = []
  const notes = new Map<string, number>()
  for (const c of changes) {
    if (c.action === 'create') lines.push(`+ create ${c.ref}${c.note ? ' *' : ''}`)
    if (c.action === 'update') lines.push(`~ update ${c.ref}`, ...c.diff.map((d) => `    ${d}`))
    if (c.note) notes.set(c.note, (notes.get(c.note) ?? 0) + 1)
  }
  const unchanged = changes.filter((c) => c.action === 'unchanged').length
  if (unchanged) lines.push(`= ${unchanged} object(s) unchanged`)
  for (const [note, n] of notes) lines.push(`* ${n} object(s) not validated by the server yet: ${note} (an earlier step of this run creates it)`)
  return lines
}

export function summarize(changes: ObjectChange[]): string {
  const n = (a: ObjectChange['action']): number => changes.filter((c) => c.action === a).length
  return `${n('create')} to create, ${n('update')} to update, ${n('unchanged')} unchanged`
}
