import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { rootCertificates } from 'node:tls'
import type { Check, CheckStatus, Context } from '../engine/types.js'
import { errorMessage } from '../engine/errors.js'
import { lookupVia } from '../clients/lookup.js'
import { AppSecret, SecretUnavailable } from './secrets.js'
import { fromInsideCluster, IN_CLUSTER_BUDGET_MS, terraformOutput, unreachableFromHere } from './database.js'

function describeRedisError(err: unknown, target: string, timeoutMs: number): string {
  const e = err as { code?: string; message?: string }
  const msg = e.message ?? errorMessage(err)
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg))
    return `Redis at ${target} rejected the password in REDIS_URL (WRONGPASS): the synced secret is out of date or AUTH was rotated`
  if (/NOAUTH/i.test(msg)) return `Redis at ${target} requires AUTH but REDIS_URL carries no password`
  if (e.code === 'ECONNREFUSED') return `Redis at ${target} refused the connection: the server is down or not listening`
  if (e.code === 'ETIMEDOUT' || /timed? ?out/i.test(msg)) return `Redis at ${target} did not answer within ${timeoutMs} ms (private to the VPC?)`
  if (/certificate|self.signed|SSL|TLS/i.test(msg)) return `Redis at ${target}: TLS handshake failed: ${msg}`
  return `Redis at ${target}: ${msg}`
}

/**
 * Plan 8.4 `redis-cli -u $REDIS_URL PING`: TLS (rediss://) with AUTH, using the URL the services
 * use. The local CA (sandbox) is added to, not substituted for, the system roots.
 */
export function redisPingCheck(secret: AppSecret, timeoutMs: number): Check {
  const directMs = Math.min(timeoutMs, 5_000)
  return {
    id: 'redis.ping',
    title: 'Redis answers PING over TLS with AUTH',
    layer: 'redis',
    timeoutMs: timeoutMs + IN_CLUSTER_BUDGET_MS,
    async run(ctx, signal) {
      let url: string
      try {
        url = await secret.get('REDIS_URL')
      } catch (err) {
        if (err instanceof SecretUnavailable) return { status: 'fail', detail: err.message }
        throw err
      }
      const u = new URL(url)
      const target = `${u.hostname}:${u.port || '6379'}`
      const tls = u.protocol === 'rediss:'
      const { Redis } = await import('ioredis')
      const client = new Redis(url, {
        lazyConnect: true,
        connectTimeout: directMs,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        // ioredis hands `tls` to tls.connect: the host resolves through the environment's DNS
        // servers when it names some (the sandbox answers its ElastiCache endpoint there)
        tls: tls
          ? {
              ca: ctx.env.caFile ? [...rootCertificates, readFileSync(ctx.env.caFile, 'utf8')] : undefined,
              servername: isIP(u.hostname) ? undefined : u.hostname,
              lookup: lookupVia(ctx.env.dnsServers),
            }
          : undefined,
      })
      // With retries off, connect() rejects with a bare "Connection is closed"; the reason
      // (WRONGPASS, TLS, refused) arrives on the error event first.
      let reason: unknown
      client.on('error', (e) => (reason ??= e))
      const stop = (): void => client.disconnect()
      signal.addEventListener('abort', stop, { once: true })
      try {
        const t0 = performance.now()
        await client.connect()
        const pong = await client.ping()
        const ms = Math.round(performance.now() - t0)
        if (pong !== 'PONG') return { status: 'fail', detail: `Redis at ${target} answered PING with ${pong}` }
        const status: CheckStatus = tls ? 'pass' : 'warn'
        return { status, detail: `PONG from ${target} in ${ms} ms${tls ? ' (TLS, AUTH)' : ' — REDIS_URL is not rediss://: traffic is unencrypted'}` }
      } catch (err) {
        const cause = reason ?? err
        if (unreachableFromHere(cause) && !signal.aborted) {
          client.disconnect()
          return fromInsideCluster(ctx, 'redis', `PING to ${target}`, describeRedisError(cause, target, directMs), IN_CLUSTER_BUDGET_MS, signal)
        }
        return { status: 'fail', detail: describeRedisError(cause, target, timeoutMs) }
      } finally {
        signal.removeEventListener('abort', stop)
        client.disconnect()
      }
    },
  }
}

/** Checklist "Redis persistence configured": ElastiCache keeps daily snapshots. */
export function redisSnapshotsCheck(timeoutMs: number): Check {
  return {
    id: 'redis.snapshots',
    title: 'ElastiCache snapshots retained',
    layer: 'redis',
    timeoutMs,
    async run(ctx: Context, signal) {
      const id = terraformOutput(ctx, 'redis_replication_group_id') ?? `autolytiq-${ctx.envName}`
      const { DescribeReplicationGroupsCommand } = await import('@aws-sdk/client-elasticache')
      const ec = await ctx.clients.aws.elasticache()
      try {
        const res = await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id }), { abortSignal: signal })
        const g = res.ReplicationGroups?.[0]
        const days = g?.SnapshotRetentionLimit ?? 0
        if (days < 1) return { status: 'fail', detail: `${id} keeps no snapshots (SnapshotRetentionLimit 0): a node loss loses the cache and sessions` }
        return { status: 'pass', detail: `${id} keeps snapshots ${days} day(s)${g?.SnapshotWindow ? `, window ${g.SnapshotWindow}` : ''}` }
      } catch (err) {
        if ((err as { name?: string }).name === 'ReplicationGroupNotFoundFault')
          return { status: 'fail', detail: `ElastiCache replication group ${id} not found` }
        throw err
      }
    },
  }
}
