import type { Check, CheckStatus, Context } from '../engine/types.js'
import { errorMessage } from '../engine/errors.js'
import { lookupVia, pgStreamVia } from '../clients/lookup.js'
import { AppSecret, SecretUnavailable } from './secrets.js'
import { probeFromCluster, type ProbeTarget } from './in-cluster-probe.js'

/** A probe from inside the cluster (Job start, image pull) gets this long beyond the direct attempt. */
export const IN_CLUSTER_BUDGET_MS = 45_000
/** In the VPC a connect takes milliseconds; from a laptop to a private address it never completes. */
const DIRECT_CONNECT_MS = 5_000

/** Errors meaning "this machine has no route to it" (a private VPC address), not "it is broken". */
export function unreachableFromHere(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  if (['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(e?.code ?? '')) return true
  return /timeout|timed? ?out/i.test(e?.message ?? '')
}

/**
 * The database/Redis security groups admit only the cluster: when this machine cannot reach the
 * target, prove it from inside the cluster (src/checks/in-cluster-probe.ts). "Private to the VPC"
 * is the design, not a failure.
 */
export async function fromInsideCluster(
  ctx: Context,
  target: ProbeTarget,
  what: string,
  direct: string,
  budgetMs: number,
  signal: AbortSignal,
): Promise<{ status: CheckStatus; detail: string }> {
  const r = await probeFromCluster(ctx, target, budgetMs, signal)
  const where = `from inside the cluster (Job ${r.job}, ${r.ms} ms); not reachable from this machine (${direct}) — private to the VPC, as designed`
  if (r.ok) return { status: 'pass', detail: `${what} ${where}` }
  return { status: 'fail', detail: `${what} FAILED ${where}: ${r.detail}` }
}

/** A terraform output recorded by terraform.outputs (plain value or terraform's {value} shape). */
export function terraformOutput(ctx: Context, name: string): string | undefined {
  const v = ctx.state.outputs('terraform.outputs')?.[name]
  const value = v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v
  return typeof value === 'string' && value ? value : undefined
}

/** Terraform names the Aurora cluster autolytiq-<env> unless its outputs say otherwise. */
export function rdsClusterId(ctx: Context): string {
  return terraformOutput(ctx, 'rds_cluster_id') ?? `autolytiq-${ctx.envName}`
}

async function describeCluster(ctx: Context, signal: AbortSignal) {
  const { DescribeDBClustersCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  const id = rdsClusterId(ctx)
  try {
    const res = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }), { abortSignal: signal })
    return { id, cluster: res.DBClusters?.[0] }
  } catch (err) {
    if ((err as { name?: string }).name === 'DBClusterNotFoundFault') return { id, cluster: undefined }
    throw err
  }
}

const SETTLING = new Set(['backing-up', 'modifying', 'upgrading', 'maintenance', 'renaming', 'resetting-master-credentials'])

/** Plan 8.3 / Rollback "Database": the Aurora cluster exists and is available. */
export function rdsClusterCheck(timeoutMs: number): Check {
  return {
    id: 'database.rds',
    title: 'RDS Aurora cluster available',
    layer: 'database',
    timeoutMs,
    async run(ctx, signal) {
      const { id, cluster } = await describeCluster(ctx, signal)
      if (!cluster) return { status: 'fail', detail: `RDS cluster ${id} not found in ${ctx.env.region}` }
      const status = cluster.Status ?? 'unknown'
      const about = `${[cluster.Engine, cluster.EngineVersion].filter(Boolean).join(' ') || 'unknown engine'}, ${cluster.DBClusterMembers?.length ?? 0} instance(s)`
      const verdict: CheckStatus = status === 'available' ? 'pass' : SETTLING.has(status) ? 'warn' : 'fail'
      return { status: verdict, detail: `${id} is ${status} (${about})` }
    },
  }
}

/** Checklist "Database backups scheduled": automated backups kept for at least a week. */
export function rdsBackupsCheck(timeoutMs: number, minDays = 7): Check {
  return {
    id: 'database.backups',
    title: `RDS automated backups retained >= ${minDays} days`,
    layer: 'database',
    timeoutMs,
    async run(ctx, signal) {
      const { id, cluster } = await describeCluster(ctx, signal)
      if (!cluster) return { status: 'fail', detail: `RDS cluster ${id} not found in ${ctx.env.region}` }
      const days = cluster.BackupRetentionPeriod ?? 0
      const window = cluster.PreferredBackupWindow ? `, window ${cluster.PreferredBackupWindow}` : ''
      // What the sandbox cannot show: moto has no CreateBackupSelection, so its platform apply keeps
      // the AWS Backup selection (daily copies to the vault) out (backup_selection = false).
      const note = ctx.env.sandbox ? '; the AWS Backup selection is not rehearsed in the sandbox (moto has no CreateBackupSelection)' : ''
      if (days < 1) return { status: 'fail', detail: `${id} has automated backups disabled${note}` }
      if (days < minDays) return { status: 'warn', detail: `${id} keeps backups ${days} day(s) only${window}${note}` }
      return { status: 'pass', detail: `${id} keeps backups ${days} days${window}${note}` }
    },
  }
}

/** Where a connection string points, without its credentials. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || '5432'}${u.pathname.length > 1 ? u.pathname : ''}`
  } catch {
    return '(unparseable DATABASE_URL)'
  }
}

function describePgError(err: unknown, target: string, timeoutMs: number): string {
  const e = err as { code?: string; message?: string }
  switch (e.code) {
    case 'ECONNREFUSED':
      return `PostgreSQL at ${target} refused the connection: the server is down or not listening`
    case 'ENOTFOUND':
    case 'ENODATA':
      return `PostgreSQL host of ${target} does not resolve`
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `PostgreSQL at ${target} is unreachable from this machine (${e.code}); the database is private to the VPC — run verify from inside it`
    case '28P01':
    case '28000':
      return `PostgreSQL at ${target} rejected the credentials in DATABASE_URL (${e.code}): ${e.message}`
    case '3D000':
      return `PostgreSQL at ${target}: ${e.message}`
  }
  if (/timeout/i.test(e.message ?? '')) return `PostgreSQL at ${target} did not answer within ${timeoutMs} ms`
  return `PostgreSQL at ${target}: ${errorMessage(err)}`
}

/**
 * Plan 8.3 `echo "SELECT 1" | psql $DATABASE_URL`, with the URL the services really use: the
 * one External Secrets synced into the cluster, not a copy on the engineer's laptop.
 */
export function selectOneCheck(secret: AppSecret, timeoutMs: number): Check {
  const directMs = Math.min(timeoutMs, DIRECT_CONNECT_MS)
  return {
    id: 'database.select',
    title: 'PostgreSQL answers SELECT 1 with DATABASE_URL',
    layer: 'database',
    timeoutMs: timeoutMs + IN_CLUSTER_BUDGET_MS,
    async run(ctx, signal) {
      let url: string
      try {
        url = await secret.get('DATABASE_URL')
      } catch (err) {
        if (err instanceof SecretUnavailable) return { status: 'fail', detail: err.message }
        throw err
      }
      const target = describeTarget(url)
      const { default: pg } = await import('pg')
      // The host resolves through the environment's DNS servers when it names some (the sandbox
      // answers its Aurora endpoints there), else through the system resolver.
      const stream = pgStreamVia(lookupVia(ctx.env.dnsServers))
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: directMs, query_timeout: timeoutMs, stream })
      client.on('error', () => {}) // a dropped connection surfaces through the pending query
      const stop = (): void => void client.end().catch(() => {})
      signal.addEventListener('abort', stop, { once: true })
      try {
        const t0 = performance.now()
        await client.connect()
        const r = await client.query<{ ok: number }>('SELECT 1 AS ok')
        if (r.rows[0]?.ok !== 1) return { status: 'fail', detail: `SELECT 1 on ${target} returned ${JSON.stringify(r.rows)}` }
        return { status: 'pass', detail: `SELECT 1 on ${target} in ${Math.round(performance.now() - t0)} ms` }
      } catch (err) {
        if (unreachableFromHere(err) && !signal.aborted) {
          stop()
          return fromInsideCluster(ctx, 'postgres', `SELECT 1 on ${target}`, describePgError(err, target, directMs), IN_CLUSTER_BUDGET_MS, signal)
        }
        return { status: 'fail', detail: describePgError(err, target, timeoutMs) }
      } finally {
        signal.removeEventListener('abort', stop)
        stop()
      }
    },
  }
}
