import { createHash } from 'node:crypto'
import type { DBCluster, DBClusterSnapshot } from '@aws-sdk/client-rds'
import { UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context } from '../../engine/types.js'

/**
 * Everything the database rollback runbook acts on, resolved once by rollback.db.snapshot and
 * kept in its outputs (no secrets): a crash at any step resumes against the same snapshot and
 * the same restored cluster.
 */
export interface DbRollbackTarget {
  snapshotId: string
  snapshotTime?: string
  /** The cluster the application used when the rollback started: its settings are copied. */
  sourceCluster: string
  previousHost: string
  restoredCluster: string
  restoredInstance: string
  engine: string
  engineVersion?: string
  port?: number
  subnetGroup?: string
  securityGroups: string[]
  parameterGroup?: string
  instanceClass: string
  serverless?: { MinCapacity?: number; MaxCapacity?: number }
  deletionProtection?: boolean
  secretId: string
}

export const SNAPSHOT_STEP = 'rollback.db.snapshot'
export const RECORD_STEP = 'rollback.db.record-replicas'
export const REFRESH_STEP = 'rollback.db.refresh-external-secret'
export const VERIFY_STEP = 'rollback.db.verify'

/** Marks the restored cluster: a cluster with the same name that lacks it was not made by this rollback. */
export const RESTORED_FROM_TAG = 'autolytiq:restored-from'

/** The target a dry run resolved (nothing is saved in a dry run), by state store: one per command. */
const resolvedThisRun = new WeakMap<object, DbRollbackTarget>()

export function rememberTarget(ctx: Context, t: DbRollbackTarget): void {
  resolvedThisRun.set(ctx.state, t)
}

/** The rollback this run works on: resolved by rollback.db.snapshot (earlier in this run or before a crash). */
export function target(ctx: Context): DbRollbackTarget {
  const t = resolvedThisRun.get(ctx.state) ?? (ctx.state.outputs(SNAPSHOT_STEP) as DbRollbackTarget | undefined)
  if (!t?.restoredCluster)
    throw new UserError(
      `${SNAPSHOT_STEP} has not chosen a snapshot yet`,
      `run the whole runbook: \`autolytiq rollback database --env ${ctx.envName} --latest\` (or --snapshot <id>)`,
    )
  return t
}

/** True when a step's outputs belong to this rollback (same restored cluster), not an earlier one. */
export function sameRollback(outputs: Record<string, unknown> | undefined, t: DbRollbackTarget): boolean {
  return outputs?.restoredCluster === t.restoredCluster
}

export function completed(ctx: Context, t: DbRollbackTarget): boolean {
  return sameRollback(ctx.state.outputs(VERIFY_STEP), t)
}

export const databaseSecretId = (ctx: Context): string => `autolytiq/${ctx.envName}/database`

export interface DatabaseSecret {
  values: Record<string, unknown>
  host: string
  versionId?: string
}

/** Host of the database secret: its `host` field, else the host of its `url`. Registers every secret value first. */
export function secretHost(values: Record<string, unknown>): string | undefined {
  if (typeof values.host === 'string' && values.host) return values.host
  if (typeof values.url === 'string') {
    try {
      return new URL(values.url).hostname || undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** Secret fields that carry a credential (the url embeds the password). */
const CREDENTIAL = /pass|token|secret|key|url|dsn/i

export async function readDatabaseSecret(ctx: Context, secretId: string): Promise<DatabaseSecret> {
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
  const sm = await ctx.clients.aws.secrets()
  let text: string | undefined
  let versionId: string | undefined
  try {
    const r = await sm.send(new GetSecretValueCommand({ SecretId: secretId }))
    text = r.SecretString
    versionId = r.VersionId
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException')
      throw new UserError(`Secrets Manager has no secret ${secretId}`, 'the database rollback repoints that secret; create it with the secrets step first')
    throw err
  }
  registerSecret(text)
  let values: Record<string, unknown>
  try {
    values = JSON.parse(text ?? '') as Record<string, unknown>
  } catch {
    throw new UserError(
      `secret ${secretId} is not JSON`,
      'it must hold {engine, host, port, dbname, username, password} as terraform/modules/secrets writes it',
    )
  }
  // Only the credentials: registering the user or database name ("autolytiq") would mask every
  // cluster name in output and state.
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && CREDENTIAL.test(k)) registerSecret(v)
  const host = secretHost(values)
  if (!host)
    throw new UserError(
      `secret ${secretId} names no database host (no "host", no "url")`,
      'fix the secret: it must hold host, port, dbname, username and password (terraform/modules/secrets writes them)',
    )
  return { values, host, versionId }
}

/** The secret's values pointing at `host`: host field and the url's host; user, password, port and database stay. */
export function repointed(values: Record<string, unknown>, host: string): Record<string, unknown> {
  const out = { ...values }
  if (typeof out.host === 'string') out.host = host
  if (typeof out.url === 'string') {
    const u = new URL(out.url)
    u.hostname = host
    out.url = u.toString()
  }
  return out
}

export async function describeCluster(ctx: Context, id: string): Promise<DBCluster | undefined> {
  const { DescribeDBClustersCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  try {
    return (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0]
  } catch (err) {
    if ((err as Error).name === 'DBClusterNotFoundFault') return undefined
    throw err
  }
}

/** The cluster behind a host name: by endpoint, else by the identifier an Aurora endpoint starts with. */
export async function clusterForHost(ctx: Context, host: string): Promise<DBCluster | undefined> {
  const { DescribeDBClustersCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  let marker: string | undefined
  do {
    const page = await rds.send(new DescribeDBClustersCommand({ Marker: marker }))
    const hit = page.DBClusters?.find((c) => c.Endpoint === host || c.ReaderEndpoint === host)
    if (hit) return hit
    marker = page.Marker
  } while (marker)
  return describeCluster(ctx, host.split('.')[0] ?? host)
}

export async function snapshotsOf(ctx: Context, clusterId: string): Promise<DBClusterSnapshot[]> {
  const { DescribeDBClusterSnapshotsCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  const out: DBClusterSnapshot[] = []
  let marker: string | undefined
  do {
    const page = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: clusterId, Marker: marker }))
    out.push(...(page.DBClusterSnapshots ?? []))
    marker = page.Marker
  } while (marker)
  return out.sort((a, b) => time(b.SnapshotCreateTime) - time(a.SnapshotCreateTime))
}

export function time(d: Date | string | undefined): number {
  return d ? new Date(d).getTime() : 0
}

/**
 * `<base>-restored-<8 hex of the snapshot id>`: deterministic, so a resumed run finds the cluster
 * it already started restoring; the base drops an earlier `-restored-…` so names do not grow.
 */
export function restoredClusterName(sourceCluster: string, snapshotId: string): string {
  const base = sourceCluster
    .replace(/-restored-[0-9a-f]{8}$/, '')
    .slice(0, 45)
    .replace(/-+$/, '')
  return `${base}-restored-${createHash('sha256').update(snapshotId).digest('hex').slice(0, 8)}`
}

export function describeSnapshot(s: DBClusterSnapshot): string {
  return `${s.DBClusterSnapshotIdentifier} (${s.SnapshotType ?? 'snapshot'}, ${s.SnapshotCreateTime ? new Date(s.SnapshotCreateTime).toISOString() : 'time unknown'}, ${s.Status})`
}
