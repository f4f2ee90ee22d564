import type { DBCluster, DBInstance } from '@aws-sdk/client-rds'
import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { RESTORED_FROM_TAG, describeCluster, target, type DbRollbackTarget } from './db-target.js'

const noParams = z.object({}).strict()

async function describeInstance(ctx: Context, id: string): Promise<DBInstance | undefined> {
  const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds')
  const rds = await ctx.clients.aws.rds()
  try {
    return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0]
  } catch (err) {
    if ((err as Error).name === 'DBInstanceNotFoundFault') return undefined
    throw err
  }
}

/** A cluster of that name made by anything but this rollback must never be taken for the restore. */
function ensureOurs(c: DBCluster, t: DbRollbackTarget): void {
  const tag = c.TagList?.find((x) => x.Key === RESTORED_FROM_TAG)?.Value
  if (tag !== t.snapshotId)
    throw new UserError(
      `a cluster named ${t.restoredCluster} already exists and was not restored from ${t.snapshotId} by autolytiq (tag ${RESTORED_FROM_TAG}=${tag ?? 'absent'}); nothing was changed`,
      'find out what it is (`aws rds describe-db-clusters`) before rolling back',
    )
}

function restoreInput(ctx: Context, t: DbRollbackTarget): Record<string, unknown> {
  return {
    DBClusterIdentifier: t.restoredCluster,
    SnapshotIdentifier: t.snapshotId,
    Engine: t.engine,
    EngineVersion: t.engineVersion,
    Port: t.port,
    DBSubnetGroupName: t.subnetGroup,
    VpcSecurityGroupIds: t.securityGroups.length ? t.securityGroups : undefined,
    DBClusterParameterGroupName: t.parameterGroup,
    ServerlessV2ScalingConfiguration: t.serverless,
    DeletionProtection: t.deletionProtection,
    Tags: [
      { Key: RESTORED_FROM_TAG, Value: t.snapshotId },
      { Key: 'autolytiq:environment', Value: ctx.envName },
      { Key: 'autolytiq:replaces', Value: t.sourceCluster },
    ],
  }
}

/** Plan "Database Rollback" 3: restore-db-cluster-from-snapshot, plus the writer instance it needs to serve. */
export const dbRestore: Step<z.infer<typeof noParams>> = {
  id: 'rollback.db.restore',
  title: 'Restore the snapshot to a new cluster',
  description:
    'Plan "Database Rollback" 3: RestoreDBClusterFromSnapshot into a new cluster with the settings of the one in use (engine and version, subnet group, security groups, parameter group, Serverless v2 capacity), then CreateDBInstance for its writer. The old cluster is kept.',
  danger: 'mutating',
  params: noParams,
  timeoutMs: 10 * 60_000,
  async plan(ctx) {
    const t = target(ctx)
    const input = restoreInput(ctx, t)
    return [
      `rds RestoreDBClusterFromSnapshot ${JSON.stringify(input)}`,
      `rds CreateDBInstance {"DBInstanceIdentifier":"${t.restoredInstance}","DBClusterIdentifier":"${t.restoredCluster}","Engine":"${t.engine}","DBInstanceClass":"${t.instanceClass}"}`,
    ]
  },
  async check(ctx) {
    const t = target(ctx)
    const cluster = await describeCluster(ctx, t.restoredCluster)
    if (!cluster) return { status: 'todo', detail: `${t.restoredCluster} does not exist yet` }
    ensureOurs(cluster, t)
    if (!(await describeInstance(ctx, t.restoredInstance)))
      return { status: 'todo', detail: `${t.restoredCluster} exists, its instance ${t.restoredInstance} does not` }
    return { status: 'done', detail: `${t.restoredCluster} (${cluster.Status})`, outputs: { restoredCluster: t.restoredCluster } }
  },
  async run(ctx) {
    const t = target(ctx)
    const { RestoreDBClusterFromSnapshotCommand, CreateDBInstanceCommand } = await import('@aws-sdk/client-rds')
    const rds = await ctx.clients.aws.rds()
    const existing = await describeCluster(ctx, t.restoredCluster)
    if (existing) ensureOurs(existing, t)
    else {
      ctx.log(`restoring ${t.snapshotId} as ${t.restoredCluster}`)
      await rds.send(new RestoreDBClusterFromSnapshotCommand(restoreInput(ctx, t) as never))
    }
    if (!(await describeInstance(ctx, t.restoredInstance))) {
      ctx.log(`creating instance ${t.restoredInstance} (${t.instanceClass})`)
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: t.restoredInstance,
          DBClusterIdentifier: t.restoredCluster,
          Engine: t.engine,
          DBInstanceClass: t.instanceClass,
          Tags: [{ Key: RESTORED_FROM_TAG, Value: t.snapshotId }],
        }),
      )
    }
    return { restoredCluster: t.restoredCluster }
  },
}

const waitParams = z
  .object({
    /** RDS has no watch: poll it, this often. */
    pollSeconds: z.number().min(0.1).default(15),
    timeoutMinutes: z.number().min(1).default(90),
  })
  .strict()

async function availability(ctx: Context, t: DbRollbackTarget): Promise<{ ready: boolean; detail: string; endpoint?: string }> {
  const [cluster, instance] = await Promise.all([describeCluster(ctx, t.restoredCluster), describeInstance(ctx, t.restoredInstance)])
  if (!cluster) throw new StepFailedError(`${t.restoredCluster} disappeared while waiting for it`, 're-run: the restore step starts it again')
  const detail = `cluster ${cluster.Status}, instance ${instance?.DBInstanceStatus ?? 'missing'}`
  return { ready: cluster.Status === 'available' && instance?.DBInstanceStatus === 'available', detail, endpoint: cluster.Endpoint }
}

/** The pause between two polls; Ctrl-C or the step deadline ends it at once. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Plan "Database Rollback" 3, the wait the plan leaves implicit: restores take minutes to an hour. */
export const dbWaitAvailable: Step<z.infer<typeof waitParams>> = {
  id: 'rollback.db.wait-available',
  title: 'Wait until the restored cluster is available',
  description:
    'Polls DescribeDBClusters/DescribeDBInstances (RDS offers no watch) until the restored cluster and its writer are available, reporting progress, with a deadline.',
  danger: 'read',
  params: waitParams,
  timeoutMs: 120 * 60_000,
  async plan(ctx, p) {
    const t = target(ctx)
    return [
      `poll rds DescribeDBClusters ${t.restoredCluster} and DescribeDBInstances ${t.restoredInstance} every ${p.pollSeconds} s until available (at most ${p.timeoutMinutes} min)`,
    ]
  },
  async check(ctx) {
    const t = target(ctx)
    const cluster = await describeCluster(ctx, t.restoredCluster)
    if (!cluster) return { status: 'todo', detail: `${t.restoredCluster} does not exist yet` }
    const a = await availability(ctx, t)
    return a.ready
      ? { status: 'done', detail: `available at ${a.endpoint}`, outputs: { restoredCluster: t.restoredCluster, endpoint: a.endpoint } }
      : { status: 'todo', detail: a.detail }
  },
  async run(ctx, p) {
    const t = target(ctx)
    const deadline = Date.now() + p.timeoutMinutes * 60_000
    let last = ''
    for (;;) {
      const a = await availability(ctx, t)
      if (a.ready) return { restoredCluster: t.restoredCluster, endpoint: a.endpoint }
      if (a.detail !== last) ctx.log((last = a.detail))
      if (Date.now() > deadline)
        throw new StepFailedError(
          `${t.restoredCluster} not available after ${p.timeoutMinutes} min (${a.detail})`,
          're-run to keep waiting; the restore continues in AWS',
        )
      await pause(p.pollSeconds * 1000, ctx.signal)
    }
  },
}
