import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { terraformOutputs } from '../terraform/outputs.js'
import { isAwsError, pollUntil } from './util.js'

const params = z
  .object({
    /** Right after an apply, RDS and ElastiCache may still be modifying or backing up. */
    waitTimeoutSeconds: z.number().int().min(1).default(1800),
    pollSeconds: z.number().int().min(1).default(20),
  })
  .strict()

interface Resource {
  what: string
  id: string
  ready: string
  status?: string
}

/** Names from terraform.outputs; the plan's naming (autolytiq-<env>) when outputs are not saved yet. */
export function infraNames(ctx: Context): { cluster: string; rds: string; redis: string } {
  const o = terraformOutputs(ctx)
  const fallback = `autolytiq-${ctx.envName}`
  return { cluster: o?.eks_cluster_name ?? ctx.env.eksCluster, rds: o?.rds_cluster_id ?? fallback, redis: o?.redis_replication_group_id ?? fallback }
}

async function statuses(ctx: Context): Promise<Resource[]> {
  const n = infraNames(ctx)
  const [eks, rds, ec] = await Promise.all([import('@aws-sdk/client-eks'), import('@aws-sdk/client-rds'), import('@aws-sdk/client-elasticache')])
  const missing = (err: unknown, ...names: string[]): undefined => {
    if (isAwsError(err, ...names)) return undefined
    throw err
  }
  const [cluster, db, cache] = await Promise.all([
    (await ctx.clients.aws.eks()).send(new eks.DescribeClusterCommand({ name: n.cluster })).then(
      (r) => r.cluster?.status as string | undefined,
      (e) => missing(e, 'ResourceNotFoundException'),
    ),
    (await ctx.clients.aws.rds()).send(new rds.DescribeDBClustersCommand({ DBClusterIdentifier: n.rds })).then(
      (r) => r.DBClusters?.[0]?.Status,
      (e) => missing(e, 'DBClusterNotFoundFault'),
    ),
    (await ctx.clients.aws.elasticache()).send(new ec.DescribeReplicationGroupsCommand({ ReplicationGroupId: n.redis })).then(
      (r) => r.ReplicationGroups?.[0]?.Status,
      (e) => missing(e, 'ReplicationGroupNotFoundFault'),
    ),
  ])
  return [
    { what: 'EKS cluster', id: n.cluster, ready: 'ACTIVE', status: cluster },
    { what: 'Aurora cluster', id: n.rds, ready: 'available', status: db },
    { what: 'ElastiCache replication group', id: n.redis, ready: 'available', status: cache },
  ]
}

const describe = (r: Resource): string => `${r.what} ${r.id} is ${r.status ?? 'missing'}`
const FAILED = /^(FAILED|failed|inaccessible-encryption-credentials|incompatible-|create-failed|DELETING|deleting)/

/** Plan 2.7: EKS ACTIVE, the Aurora cluster available, the Redis replication group available. */
export const infraStatus: Step<z.infer<typeof params>> = {
  id: 'infra.status',
  title: 'EKS, Aurora and ElastiCache are up',
  description:
    'Plan 2.7: EKS DescribeCluster ACTIVE, RDS DescribeDBClusters available, ElastiCache DescribeReplicationGroups available; waits (with a deadline) while they are still creating or modifying.',
  danger: 'read',
  params,
  timeoutMs: 60 * 60_000,
  async plan(ctx) {
    const n = infraNames(ctx)
    return [
      `eks DescribeCluster ${n.cluster} (ACTIVE)`,
      `rds DescribeDBClusters ${n.rds} (available)`,
      `elasticache DescribeReplicationGroups ${n.redis} (available)`,
    ]
  },
  async check(ctx) {
    const all = await statuses(ctx)
    const notReady = all.filter((r) => r.status !== r.ready)
    if (notReady.length === 0) return { status: 'done', detail: all.map(describe).join('; ') }
    return { status: 'todo', detail: notReady.map(describe).join('; ') }
  },
  async run(ctx, p) {
    await pollUntil(ctx, {
      what: 'EKS, Aurora and ElastiCache',
      timeoutMs: p.waitTimeoutSeconds * 1000,
      intervalMs: p.pollSeconds * 1000,
      next: `re-run to keep waiting: \`autolytiq deploy --env ${ctx.envName} --from infra.status\``,
      probe: async () => {
        const all = await statuses(ctx)
        const absent = all.filter((r) => r.status === undefined)
        const broken = all.filter((r) => r.status && FAILED.test(r.status))
        if (absent.length || broken.length)
          throw new StepFailedError(
            [...absent, ...broken].map(describe).join('; '),
            absent.length
              ? `apply the infrastructure first: \`autolytiq deploy --env ${ctx.envName} --from terraform.plan\``
              : 'see the AWS console events for it',
          )
        const notReady = all.filter((r) => r.status !== r.ready)
        return { done: notReady.length === 0, progress: notReady.map(describe).join('; ') }
      },
    })
  },
}
