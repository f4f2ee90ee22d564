import type { DBClusterSnapshot } from '@aws-sdk/client-rds'
import { z } from 'zod'
import { UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import {
  SNAPSHOT_STEP,
  VERIFY_STEP,
  clusterForHost,
  completed,
  databaseSecretId,
  describeSnapshot,
  readDatabaseSecret,
  rememberTarget,
  restoredClusterName,
  snapshotsOf,
  time,
  type DbRollbackTarget,
} from './db-target.js'

/** Filled from the command's flags (`--snapshot ID` or `--latest`), never from the runbook file. */
const params = z
  .object({
    snapshot: z.string().min(1).optional(),
    latest: z.boolean().default(false),
  })
  .strict()
type Params = z.infer<typeof params>

type Resolution = { target: DbRollbackTarget; listing: string[] } | { upToDate: string; listing: string[] }

/** The previous rollback of this environment, if one is recorded (finished or not). */
function previous(ctx: Context): DbRollbackTarget | undefined {
  const t = ctx.state.outputs(SNAPSHOT_STEP) as DbRollbackTarget | undefined
  return t?.restoredCluster ? t : undefined
}

/**
 * Finds the cluster the application uses now (the database secret's host), the snapshot to
 * restore and the settings to restore it with. Read-only.
 */
async function resolve(ctx: Context, p: Params): Promise<Resolution> {
  const secretId = databaseSecretId(ctx)
  const secret = await readDatabaseSecret(ctx, secretId)
  const inUse = await clusterForHost(ctx, secret.host)
  if (!inUse?.DBClusterIdentifier)
    throw new UserError(`no RDS cluster answers at ${secret.host} (the host in ${secretId})`, 'check the secret and `aws rds describe-db-clusters`')
  const clusterId = inUse.DBClusterIdentifier
  const own = await snapshotsOf(ctx, clusterId)
  const listing = own.slice(0, 10).map((s) => `  ${describeSnapshot(s)}`)

  let snapshot: DBClusterSnapshot | undefined
  if (p.snapshot) {
    const { DescribeDBClusterSnapshotsCommand } = await import('@aws-sdk/client-rds')
    const rds = await ctx.clients.aws.rds()
    snapshot = await rds
      .send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: p.snapshot }))
      .then((r) => r.DBClusterSnapshots?.[0])
      .catch((err: Error) => {
        if (err.name === 'DBClusterSnapshotNotFoundFault') return undefined
        throw err
      })
    if (!snapshot)
      throw new UserError(
        `no cluster snapshot ${p.snapshot}; nothing was changed`,
        `snapshots of ${clusterId}, newest first:\n${listing.join('\n') || '  (none)'}`,
      )
  } else {
    // A cluster this tool restored has a snapshot of the same data taken while it was being made:
    // only snapshots taken after that rollback finished hold anything newer.
    const prev = previous(ctx)
    const doneAt = prev && prev.restoredCluster === clusterId && completed(ctx, prev) ? time(ctx.state.outputs(VERIFY_STEP)?.completedAt as string) : 0
    snapshot = own.find((s) => s.Status === 'available' && time(s.SnapshotCreateTime) > doneAt)
    if (!snapshot && doneAt) return { upToDate: `${clusterId} is already the restore of ${prev!.snapshotId}; no newer snapshot of it exists`, listing }
    if (!snapshot)
      throw new UserError(
        `${clusterId} has no available snapshot; nothing was changed`,
        'take one (`aws rds create-db-cluster-snapshot`) or pass --snapshot ID',
      )
  }
  if (snapshot.Status !== 'available')
    throw new UserError(
      `snapshot ${snapshot.DBClusterSnapshotIdentifier} is ${snapshot.Status}, not available; nothing was changed`,
      'wait for it, or pick another',
    )

  const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  const writer = inUse.DBClusterMembers?.find((m) => m.IsClusterWriter) ?? inUse.DBClusterMembers?.[0]
  const instance = writer?.DBInstanceIdentifier
    ? (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: writer.DBInstanceIdentifier }))).DBInstances?.[0]
    : undefined
  const restoredCluster = restoredClusterName(clusterId, snapshot.DBClusterSnapshotIdentifier!)
  return {
    listing,
    target: {
      snapshotId: snapshot.DBClusterSnapshotIdentifier!,
      snapshotTime: snapshot.SnapshotCreateTime ? new Date(snapshot.SnapshotCreateTime).toISOString() : undefined,
      sourceCluster: clusterId,
      previousHost: secret.host,
      restoredCluster,
      restoredInstance: `${restoredCluster}-1`,
      engine: inUse.Engine ?? snapshot.Engine ?? 'aurora-postgresql',
      engineVersion: inUse.EngineVersion ?? snapshot.EngineVersion,
      port: inUse.Port,
      subnetGroup: inUse.DBSubnetGroup,
      securityGroups: (inUse.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
      // AWS picks the engine's default group itself; only a custom one must be carried over.
      parameterGroup: inUse.DBClusterParameterGroup?.startsWith('default.') ? undefined : inUse.DBClusterParameterGroup,
      instanceClass: instance?.DBInstanceClass ?? 'db.serverless',
      serverless: inUse.ServerlessV2ScalingConfiguration
        ? { MinCapacity: inUse.ServerlessV2ScalingConfiguration.MinCapacity, MaxCapacity: inUse.ServerlessV2ScalingConfiguration.MaxCapacity }
        : undefined,
      deletionProtection: inUse.DeletionProtection,
      secretId,
    },
  }
}

function summary(t: DbRollbackTarget): string {
  return `snapshot ${t.snapshotId}${t.snapshotTime ? ` (${t.snapshotTime})` : ''} of the data of ${t.sourceCluster} -> new cluster ${t.restoredCluster}`
}

/** Plan "Database Rollback" step 1: identify the snapshot to restore from. */
export const dbSnapshot: Step<Params> = {
  id: SNAPSHOT_STEP,
  title: 'Choose the snapshot to restore',
  description:
    'Plan "Database Rollback" 1: finds the cluster the application uses (the host in autolytiq/<env>/database), lists its snapshots and resolves --snapshot ID or --latest; a rollback left half-done resumes with its own snapshot.',
  danger: 'read',
  params,
  async plan(ctx, p) {
    const r = await resolve(ctx, p)
    if ('upToDate' in r) return [`nothing to do: ${r.upToDate}`, 'snapshots, newest first:', ...r.listing]
    rememberTarget(ctx, r.target)
    return [`restore ${summary(r.target)}`, 'snapshots of the cluster in use, newest first:', ...r.listing]
  },
  async check(ctx, p) {
    const prev = previous(ctx)
    if (prev && !completed(ctx, prev)) {
      if (p.snapshot && p.snapshot !== prev.snapshotId)
        throw new UserError(
          `a database rollback to snapshot ${prev.snapshotId} is in progress on ${ctx.envName} (its new cluster ${prev.restoredCluster}); refusing to start another with ${p.snapshot}`,
          `finish it first: \`autolytiq rollback database --env ${ctx.envName} --snapshot ${prev.snapshotId}\``,
        )
      rememberTarget(ctx, prev)
      return { status: 'done', detail: `resuming the rollback to ${summary(prev)}`, outputs: { ...prev } }
    }
    if (!p.snapshot && !p.latest) throw new UserError('say which snapshot to restore: --snapshot ID or --latest')
    const r = await resolve(ctx, p)
    if ('upToDate' in r) {
      rememberTarget(ctx, prev!)
      return { status: 'done', detail: r.upToDate }
    }
    if (prev && r.target.restoredCluster === prev.restoredCluster) {
      rememberTarget(ctx, prev)
      return { status: 'done', detail: `already restored: ${summary(prev)}` }
    }
    rememberTarget(ctx, r.target)
    return { status: 'todo', detail: summary(r.target) }
  },
  async run(ctx, p) {
    const r = await resolve(ctx, p)
    if ('upToDate' in r) throw new UserError(r.upToDate)
    for (const line of r.listing) ctx.log(line.trim())
    rememberTarget(ctx, r.target)
    return { ...r.target }
  },
}
