import {
  CreateReplicationGroupCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  type CreateReplicationGroupCommandInput,
} from '@aws-sdk/client-elasticache'
import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { AwsTestConfig } from './components/moto.js'

/**
 * The one AWS resource `sandbox up` creates itself: the ElastiCache replication group, because
 * moto cannot serve the one terraform/modules/cache would make (a moto gap; the sandbox's
 * Terraform root sets redis_replication_group_managed = false and reads this group instead).
 * Everything else in the sandbox's AWS — VPC, EKS cluster and node groups, Aurora, KMS, Secrets
 * Manager, IAM/IRSA, ECR, backup — comes from `terraform apply` of terraform/environments/
 * sandbox-platform in phase 2.
 *
 * The group listens on the sandbox Redis's port with its password as AUTH token, and is described
 * in the sandbox-only secret `sandbox/elasticache/autolytiq-<env>` ({primary_endpoint,
 * auth_token}), which the Terraform root reads (data source) and the modules copy into
 * autolytiq/<env>/redis as they would for a group of their own.
 */
export interface RedisGroupInput {
  aws: AwsTestConfig
  envName: string
  /** The sandbox Redis: its port and password (the AUTH token). */
  redis: { port: number; password: string }
}

/** The group as the cache module would make it (two nodes, failover, TLS, AUTH), on the sandbox Redis's port. */
export function redisGroupRequest(name: string, redis: { port: number; password: string }, description: string): CreateReplicationGroupCommandInput {
  return {
    ReplicationGroupId: name,
    ReplicationGroupDescription: description,
    Engine: 'redis',
    EngineVersion: '7.0',
    CacheNodeType: 'cache.t3.micro',
    NumCacheClusters: 2,
    AutomaticFailoverEnabled: true,
    TransitEncryptionEnabled: true,
    AtRestEncryptionEnabled: true,
    AuthToken: redis.password,
    SnapshotRetentionLimit: 1,
    Port: redis.port,
  }
}

export const redisGroupSecretId = (envName: string): string => `sandbox/elasticache/autolytiq-${envName}`

/** Returns the group's primary and reader endpoints: the names the sandbox DNS and the Redis certificate must carry. */
export async function seedRedisGroup(i: RedisGroupInput, log: (m: string) => void): Promise<{ redisEndpoints: string[] }> {
  const name = `autolytiq-${i.envName}`
  const ec = new ElastiCacheClient(i.aws)
  const sm = new SecretsManagerClient(i.aws)
  try {
    const describe = async () => (await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: name }))).ReplicationGroups?.[0]
    let group
    try {
      group = await describe()
    } catch (err) {
      if ((err as { name?: string }).name !== 'ReplicationGroupNotFoundFault') throw err
      group = (
        await ec.send(
          new CreateReplicationGroupCommand(
            redisGroupRequest(name, i.redis, 'autolytiq sandbox Redis (created by sandbox up: moto cannot serve terraform/modules/cache)'),
          ),
        )
      ).ReplicationGroup
    }
    const node = group?.NodeGroups?.[0]
    const redisEndpoints = [node?.PrimaryEndpoint?.Address, node?.ReaderEndpoint?.Address].filter((a): a is string => Boolean(a))
    if (!redisEndpoints[0]) throw new Error(`moto reports no primary endpoint for the ElastiCache group ${name}`)
    const SecretString = JSON.stringify({ primary_endpoint: redisEndpoints[0], auth_token: i.redis.password })
    const id = redisGroupSecretId(i.envName)
    try {
      await sm.send(
        new CreateSecretCommand({
          Name: id,
          SecretString,
          Description: `the ElastiCache group ${name} sandbox up created (read by the sandbox's Terraform root)`,
        }),
      )
    } catch (err) {
      if (!(err instanceof ResourceExistsException)) throw err
      await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString }))
    }
    log(`created ElastiCache group ${name} (moto gap: Terraform reads it) and ${id}`)
    return { redisEndpoints }
  } finally {
    ec.destroy()
    sm.destroy()
  }
}
