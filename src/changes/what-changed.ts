import { gunzipSync } from 'node:zlib'
import type * as k8s from '@kubernetes/client-node'
import type { AuditEntry } from '../engine/audit.js'
import { errorMessage } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import type { Context } from '../engine/types.js'
import { listStateVersions, STATE_WRITER_METADATA } from '../rollback/state-versions.js'
import { CHANGE_CAUSE, changedBy } from '../rollback/workloads.js'

/**
 * "What changed?" — the first question of an incident review — answered from every layer that
 * keeps a record: autolytiq's audit log, Deployment revisions (ReplicaSets), Helm release
 * revisions, Terraform state versions, Secrets Manager secret versions and autoscaler events.
 * Read-only, each source under its own time limit; a source that cannot be read is named, not
 * silently left out.
 */
export type ChangeSource = 'autolytiq' | 'deployment' | 'helm' | 'terraform' | 'secrets' | 'scaling'

export interface Change {
  /** ISO time of the change. */
  at: string
  source: ChangeSource
  /**
   * Who made it, where the source records it, else "unknown" (never a guess): autolytiq's audit
   * log and the annotations, release descriptions and object metadata autolytiq writes give
   * user@host; a Deployment's managedFields give the tool (`field manager kubectl-set`); Terraform's
   * own state writes and Secrets Manager versions do not say (CloudTrail does).
   */
  who: string
  what: string
  /** The catalog service it concerns, when it concerns one. */
  service?: string
  /** Deployment rollouts: revision and images, for the next step and the report. */
  revision?: number
  /** True when the rollout re-activated an earlier template (a rollback, by whatever tool). */
  rollback?: boolean
  imageBefore?: string
  imageAfter?: string
}

export interface SourceStatus {
  source: ChangeSource
  ok: boolean
  /** How many changes it contributed, or why it could not be read. */
  detail: string
}

export interface WhatChanged {
  since: string
  changes: Change[]
  sources: SourceStatus[]
}

const REVISION = 'deployment.kubernetes.io/revision'
export const UNKNOWN = 'unknown'

const iso = (d: Date | string | undefined): string | undefined => {
  if (!d) return undefined
  const t = new Date(d)
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString()
}

const imagesText = (spec: k8s.V1PodSpec | undefined): string => (spec?.containers ?? []).map((c) => c.image ?? '?').join(', ')

/** autolytiq's own record: deploy steps that changed something, rollbacks, state operations. */
async function fromAudit(ctx: Context, since: number): Promise<Change[]> {
  const entries = (await ctx.audit.read()).filter((e) => Date.parse(e.at) >= since && e.result !== 'started' && e.action !== 'checklist.answer')
  return entries.map((e) => ({ at: e.at, source: 'autolytiq' as const, who: `${e.user}@${e.host}`, what: describeAudit(e), service: serviceOf(e) }))
}

function serviceOf(e: AuditEntry): string | undefined {
  return e.action.startsWith('rollback.') && e.action !== 'rollback.infra.apply' && e.action !== 'rollback.infra.restore-state' ? e.step : undefined
}

function describeAudit(e: AuditEntry): string {
  const result = e.result === 'ok' ? '' : ` (${e.result}${e.detail ? `: ${e.detail.slice(0, 120)}` : ''})`
  if (e.action === 'step.run') return `deploy step ${e.step ?? '?'} ran${e.result === 'ok' ? ' and changed the environment' : ''}${result}`
  if (e.action.startsWith('rollback.') && e.params && 'before' in e.params) {
    const p = e.params as { before?: Record<string, string>; after?: Record<string, string>; fromRevision?: number; toRevision?: number }
    const imgs = (m?: Record<string, string>): string => Object.values(m ?? {}).join(', ') || '?'
    const revs = p.fromRevision !== undefined ? ` revision ${p.fromRevision} → ${p.toRevision ?? 'new'},` : ''
    return `autolytiq ${e.action.replace('.', ' ')} ${e.step ?? ''}:${revs} image ${imgs(p.before)} → ${imgs(p.after)}${result}`
  }
  return `autolytiq ${e.action}${e.step ? ` ${e.step}` : ''}${result}`
}

/** When a ReplicaSet became its Deployment's current one: created then, or re-activated by a rollback (its last controller write). */
function becameCurrentAt(rs: k8s.V1ReplicaSet, reused: boolean): string | undefined {
  if (!reused) return iso(rs.metadata?.creationTimestamp)
  const times = (rs.metadata?.managedFields ?? [])
    .filter((f) => !f.subresource)
    .map((f) => iso(f.time))
    .filter((t): t is string => Boolean(t))
  return times.sort().pop() ?? iso(rs.metadata?.creationTimestamp)
}

const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history'

/** One revision a ReplicaSet held: rolling back re-activates an old ReplicaSet under a new revision number. */
interface RevisionEntry {
  revision: number
  rs: k8s.V1ReplicaSet
  /** When it became current, where known (an intermediate revision of a twice re-activated set is not). */
  at?: string
  reused: boolean
}

function revisionsOf(rs: k8s.V1ReplicaSet): RevisionEntry[] {
  const current = Number(rs.metadata!.annotations![REVISION])
  const history = (rs.metadata?.annotations?.[REVISION_HISTORY] ?? '')
    .split(',')
    .map(Number)
    .filter((n) => n > 0)
    .sort((a, b) => a - b)
  const first = history[0] ?? current
  return [...history, current].map((revision) => ({
    revision,
    rs,
    reused: revision !== first,
    at: revision === first ? iso(rs.metadata?.creationTimestamp) : revision === current ? becameCurrentAt(rs, true) : undefined,
  }))
}

/** Does this managedFields entry own a container image of the pod template? */
function ownsTemplateImage(f: k8s.V1ManagedFieldsEntry): boolean {
  const containers = (f.fieldsV1 as Record<string, Record<string, Record<string, Record<string, Record<string, unknown>>>>> | undefined)?.['f:spec']?.[
    'f:template'
  ]?.['f:spec']?.['f:containers']
  return Object.values(containers ?? {}).some((c) => Boolean(c && typeof c === 'object' && 'f:image' in c))
}

/**
 * Who made a revision: the person of autolytiq's change-cause when it was written for this
 * revision's images; for the current revision, else, the field manager that last wrote the
 * template's image (a tool: kubectl-set, autolytiq's server-side apply, a CD system). Older
 * revisions without either: unknown.
 */
function revisionAuthor(e: RevisionEntry, current: boolean, deployment: k8s.V1Deployment | undefined): string {
  const images = imagesText(e.rs.spec?.template?.spec)
  // A re-activated ReplicaSet's annotations describe its latest activation only, not the revisions it held before.
  const latestOfSet = e.revision === Number(e.rs.metadata?.annotations?.[REVISION])
  const person = latestOfSet ? changedBy(e.rs.metadata?.annotations?.[CHANGE_CAUSE], images) : undefined
  if (person) return person
  if (!current || !deployment || imagesText(deployment.spec?.template?.spec) !== images) return UNKNOWN
  const writers = (deployment.metadata?.managedFields ?? []).filter((f) => !f.subresource && ownsTemplateImage(f))
  const last = writers.sort((a, b) => String(a.time ?? '').localeCompare(String(b.time ?? ''))).pop()
  return last?.manager ? `field manager ${last.manager}` : UNKNOWN
}

/** Deployment rollouts from ReplicaSet revisions: revision N's images against revision N-1's. */
async function fromDeployments(ctx: Context, since: number): Promise<Change[]> {
  const apps = await ctx.clients.kube.apps()
  const [setList, deploymentList] = await Promise.all([
    apps.listNamespacedReplicaSet({ namespace: ctx.env.namespace }),
    apps.listNamespacedDeployment({ namespace: ctx.env.namespace }),
  ])
  const sets = setList.items
  const deployments = new Map(deploymentList.items.map((d) => [d.metadata?.name ?? '', d]))
  const byDeployment = new Map<string, RevisionEntry[]>()
  for (const rs of sets) {
    const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment')?.name
    if (!owner || !rs.metadata?.annotations?.[REVISION]) continue
    byDeployment.set(owner, [...(byDeployment.get(owner) ?? []), ...revisionsOf(rs)])
  }
  const out: Change[] = []
  for (const [name, list] of byDeployment) {
    const sorted = [...list].sort((a, b) => a.revision - b.revision)
    const newest = sorted.at(-1)?.revision
    // Revision numbers are the order of rollouts; the times are not always: a re-activated ReplicaSet's last write is
    // its scale-down once a later revision replaced it, and the API's timestamps have one-second resolution, so
    // rollouts in the same second tie. Each revision became current before the next one did.
    for (let i = sorted.length - 2; i >= 0; i--) {
      const e = sorted[i]!
      const next = sorted[i + 1]!.at
      if (e.at && next && e.at >= next) e.at = new Date(Date.parse(next) - 1).toISOString()
    }
    sorted.forEach((e, i) => {
      const prev = sorted[i - 1]
      if (!e.at || Date.parse(e.at) < since) return
      const after = imagesText(e.rs.spec?.template?.spec)
      const before = prev ? imagesText(prev.rs.spec?.template?.spec) : undefined
      out.push({
        at: e.at,
        source: 'deployment',
        who: revisionAuthor(e, e.revision === newest, deployments.get(name)),
        service: name,
        revision: e.revision,
        ...(e.reused ? { rollback: true } : {}),
        imageBefore: before,
        imageAfter: after,
        what: prev
          ? `deployment/${name} rolled out revision ${e.revision}${e.reused ? ' (an earlier template again: a rollback)' : ''}: image ${before} → ${after}`
          : `deployment/${name} created (revision ${e.revision}, image ${after})`,
      })
    })
  }
  return out
}

/**
 * The description of a Helm release revision, when autolytiq wrote it (`helm upgrade --description
 * "autolytiq <step> by user@host …"`). Helm stores the release as base64(gzip(JSON)) in the
 * Secret's `release` key; only `info.description` is taken from it (values and manifest are never
 * read out, printed or kept).
 */
function helmAuthor(secret: k8s.V1Secret): string {
  try {
    const stored = Buffer.from(secret.data?.release ?? '', 'base64').toString('utf8')
    const json = gunzipSync(Buffer.from(stored, 'base64')).toString('utf8')
    const description = (JSON.parse(json) as { info?: { description?: unknown } }).info?.description
    const m = typeof description === 'string' ? /^autolytiq \S+ by (\S+@\S+) /.exec(description) : null
    return m ? m[1]! : UNKNOWN
  } catch {
    return UNKNOWN
  }
}

/** Helm keeps each release revision in a Secret labelled owner=helm; its labels, date and autolytiq's description are read. */
async function fromHelm(ctx: Context, since: number): Promise<Change[]> {
  const core = await ctx.clients.kube.core()
  const list = await core.listSecretForAllNamespaces({ labelSelector: 'owner=helm' })
  return list.items
    .filter((s) => Date.parse(iso(s.metadata?.creationTimestamp) ?? '') >= since)
    .map((s) => {
      const l = s.metadata?.labels ?? {}
      return {
        at: iso(s.metadata!.creationTimestamp)!,
        source: 'helm' as const,
        who: helmAuthor(s),
        what: `helm release ${l.name ?? '?'} revision ${l.version ?? '?'} in ${s.metadata?.namespace} (now ${l.status ?? 'unknown'})`,
      }
    })
}

/**
 * Who wrote a state version: the metadata autolytiq puts on the versions it writes itself (a
 * `rollback infra` restore); Terraform's own writes carry none, so they stay unknown.
 */
async function stateWriter(ctx: Context, versionId: string): Promise<string> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3')
  const s3 = await ctx.clients.aws.s3()
  const { bucket, key } = ctx.env.terraformState
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))
  return head.Metadata?.[STATE_WRITER_METADATA] || UNKNOWN
}

/** Every write of the Terraform state is an S3 object version (the backend bucket is versioned). */
async function fromTerraform(ctx: Context, since: number): Promise<Change[]> {
  const { bucket, key } = ctx.env.terraformState
  const versions = (await listStateVersions(ctx)).filter((v) => v.lastModified && Date.parse(v.lastModified) >= since)
  const writers = await Promise.all(versions.map((v) => (v.deleteMarker ? UNKNOWN : stateWriter(ctx, v.versionId))))
  return versions.map((v, i) => ({
    at: v.lastModified!,
    source: 'terraform' as const,
    who: writers[i]!,
    what: v.deleteMarker
      ? `terraform state s3://${bucket}/${key} deleted (marker ${v.versionId})`
      : `terraform state written: version ${v.versionId} (${v.size ?? '?'} bytes)${v.latest ? ', current' : ''}`,
  }))
}

/** Secrets Manager versions of this environment's secrets: names, stages and dates; a value is never read. */
async function fromSecrets(ctx: Context, since: number): Promise<Change[]> {
  const sm = await import('@aws-sdk/client-secrets-manager')
  const client = await ctx.clients.aws.secrets()
  const prefix = `autolytiq/${ctx.envName}/`
  const secrets: { name: string; lastChanged?: number }[] = []
  let NextToken: string | undefined
  do {
    const page = await client.send(new sm.ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], NextToken }))
    for (const s of page.SecretList ?? [])
      if (s.Name?.startsWith(prefix)) secrets.push({ name: s.Name, lastChanged: (s.LastChangedDate ?? s.CreatedDate)?.getTime() })
    NextToken = page.NextToken
  } while (NextToken)
  const perSecret = await Promise.all(
    secrets.map(async ({ name, lastChanged }) => {
      const versions = (await client.send(new sm.ListSecretVersionIdsCommand({ SecretId: name }))).Versions ?? []
      return (
        versions
          .filter((v) => v.CreatedDate)
          // No version is newer than the secret's last change (moto 5 reports "now" as every version's date).
          .map((v) => ({ v, at: Math.min(v.CreatedDate!.getTime(), lastChanged ?? Infinity) }))
          .filter(({ at }) => at >= since)
          .map(({ v, at }) => ({
            at: new Date(at).toISOString(),
            source: 'secrets' as const,
            // Secrets Manager does not record who wrote a version (CloudTrail does).
            who: UNKNOWN,
            what: `secret ${name}: new version${v.VersionStages?.length ? ` (${v.VersionStages.join(', ')})` : ''}`,
          }))
      )
    }),
  )
  return perSecret.flat()
}

/** Autoscaler decisions (the HPA's SuccessfulRescale events), as long as the cluster keeps events. */
async function fromScaling(ctx: Context, since: number): Promise<Change[]> {
  const core = await ctx.clients.kube.core()
  const events = (await core.listNamespacedEvent({ namespace: ctx.env.namespace })).items
  return events
    .filter((e) => e.reason === 'SuccessfulRescale')
    .map((e) => ({ e, at: iso(e.lastTimestamp) ?? iso(e.eventTime as unknown as string) ?? iso(e.metadata?.creationTimestamp) }))
    .filter((x) => x.at && Date.parse(x.at) >= since)
    .map(({ e, at }) => ({
      at: at!,
      source: 'scaling' as const,
      who: e.source?.component ?? e.reportingComponent ?? UNKNOWN,
      service: e.involvedObject?.name,
      what: `${e.involvedObject?.kind?.toLowerCase()}/${e.involvedObject?.name}: ${e.message ?? 'rescaled'}`,
    }))
}

const SOURCES: [ChangeSource, (ctx: Context, since: number) => Promise<Change[]>][] = [
  ['autolytiq', fromAudit],
  ['deployment', fromDeployments],
  ['helm', fromHelm],
  ['terraform', fromTerraform],
  ['secrets', fromSecrets],
  ['scaling', fromScaling],
]

/** Every change since `sinceSeconds` ago, newest first, from all sources at once. */
export async function whatChanged(ctx: Context, o: { sinceSeconds: number; timeoutMs: number }): Promise<WhatChanged> {
  const since = Date.now() - o.sinceSeconds * 1000
  const results = await Promise.all(
    SOURCES.map(async ([source, read]) => {
      let timer: NodeJS.Timeout | undefined
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs)
      })
      try {
        const changes = await Promise.race([read(ctx, since), limit])
        return { source, changes, status: { source, ok: true, detail: `${changes.length} change(s)` } }
      } catch (err) {
        return { source, changes: [] as Change[], status: { source, ok: false, detail: `not readable: ${redact(errorMessage(err)).slice(0, 200)}` } }
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  const changes = results
    .flatMap((r) => r.changes)
    .map((c) => ({ ...c, what: redact(c.what) }))
    .sort((a, b) => b.at.localeCompare(a.at))
  return { since: new Date(since).toISOString(), changes, sources: results.map((r) => r.status) }
}

/** The latest rollout of each service inside the window (a candidate for `autolytiq rollback`). */
export function latestRollouts(w: WhatChanged): Map<string, Change> {
  const out = new Map<string, Change>()
  for (const c of w.changes) if (c.source === 'deployment' && c.service && c.imageBefore !== undefined && !out.has(c.service)) out.set(c.service, c)
  return out
}
