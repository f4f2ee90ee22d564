import { randomBytes } from 'node:crypto'
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks'
import { CreateReplicationGroupCommand, DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache'
import { CreateDBClusterCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { SECRETS, secretFields } from '../../src/steps/aws/secrets.js'
import type { AwsTestConfig } from '../../src/sandbox/components/moto.js'
import { redisGroupRequest } from '../../src/sandbox/seed.js'

/**
 * For tests that only need the AWS objects of a sandbox, not the apply that makes them: the EKS
 * cluster record, the Aurora cluster, the ElastiCache group and the eight secrets of plan 3.5, as
 * terraform/environments/sandbox-platform (the platform module on moto) leaves them. The sandbox
 * itself gets them from that apply (phase 2); `sandbox up` creates only the ElastiCache group
 * (src/sandbox/seed.ts, a moto gap). As terraform's, the database secret names the Aurora
 * cluster's endpoint (the cluster listens on the port of the real PostgreSQL), which the sandbox
 * DNS resolves to that PostgreSQL (controllers/rds-data-plane.ts); the Redis secret names the
 * replication group's primary endpoint.
 */
export interface SeedInput {
  aws: AwsTestConfig
  envName: string
  clusterName: string
  postgres: { host: string; port: number; user: string; password: string; database: string }
  redis: { host: string; port: number; password: string }
  jwtSecret: string
}

const hex = (n: number): string => randomBytes(n).toString('hex')
const missing = (err: unknown, name: string): boolean => (err as { name?: string }).name === name

async function ensure(describe: () => Promise<unknown>, create: () => Promise<unknown>, notFound: string): Promise<void> {
  try {
    await describe()
  } catch (err) {
    if (!missing(err, notFound)) throw err
    await create()
  }
}

/**
 * The eight secrets as terraform/modules/secrets writes them: for each secret exactly the fields of
 * the secret contract (SECRETS in src/steps/aws/secrets.ts, which the contract test holds equal to
 * the module), never more (no `url`: the ExternalSecret composes the URLs). Values point at the
 * sandbox's PostgreSQL and Redis; the rest are random, third-party ones sandbox values (not
 * placeholders).
 */
export function sandboxSecrets(i: SeedInput): Record<string, Record<string, string | number | boolean>> {
  const pg = i.postgres
  const known: Record<string, string | number | boolean> = {
    'database.engine': 'postgres',
    'database.host': pg.host,
    'database.port': pg.port,
    'database.dbname': pg.database,
    'database.username': pg.user,
    'database.password': pg.password,
    'redis.host': i.redis.host,
    'redis.port': i.redis.port,
    'redis.auth_token': i.redis.password,
    'redis.tls': true,
    'jwt.secret': i.jwtSecret,
    'smtp.host': 'smtp.sandbox.autolytiq.local',
    'smtp.port': '587',
    'smtp.username': 'autolytiq-sandbox',
    'smtp.from': 'noreply@sandbox.autolytiq.local',
    'external-apis.sentry_dsn': `https://${hex(16)}@sentry.sandbox.autolytiq.local/1`,
  }
  const out: Record<string, Record<string, string | number | boolean>> = {}
  for (const name of Object.keys(SECRETS)) out[name] = Object.fromEntries(secretFields(name).map((f) => [f, known[`${name}.${f}`] ?? `sandbox-${hex(16)}`]))
  const stale = Object.keys(known).filter((k) => out[k.split('.')[0]!]?.[k.slice(k.indexOf('.') + 1)] !== known[k])
  if (stale.length) throw new Error(`sandbox seed values for ${stale.join(', ')}, which the secret contract (SECRETS) does not have`)
  return out
}

/** Returns the Aurora cluster's endpoint and the ElastiCache group's primary and reader endpoints: the hosts of the secrets. */
export async function seedAws(i: SeedInput, log: (m: string) => void): Promise<{ databaseEndpoint: string; redisEndpoints: string[] }> {
  const name = `autolytiq-${i.envName}`
  const eks = new EKSClient(i.aws)
  const rds = new RDSClient(i.aws)
  const ec = new ElastiCacheClient(i.aws)
  const sm = new SecretsManagerClient(i.aws)
  try {
    await Promise.all([
      ensure(
        () => eks.send(new DescribeClusterCommand({ name: i.clusterName })),
        () =>
          eks.send(
            new CreateClusterCommand({
              name: i.clusterName,
              version: '1.34',
              roleArn: `arn:aws:iam::123456789012:role/${i.clusterName}-cluster`,
              resourcesVpcConfig: { subnetIds: ['subnet-sandbox-a', 'subnet-sandbox-b', 'subnet-sandbox-c'] },
            }),
          ),
        'ResourceNotFoundException',
      ),
      ensure(
        () => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: name })),
        () =>
          rds.send(
            new CreateDBClusterCommand({
              DBClusterIdentifier: name,
              Engine: 'aurora-postgresql',
              EngineVersion: '15.4',
              DatabaseName: i.postgres.database,
              MasterUsername: i.postgres.user,
              MasterUserPassword: i.postgres.password,
              Port: i.postgres.port,
              BackupRetentionPeriod: 7,
              StorageEncrypted: true,
              DeletionProtection: false,
            }),
          ),
        'DBClusterNotFoundFault',
      ),
      ensure(
        () => ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: name })),
        () => ec.send(new CreateReplicationGroupCommand(redisGroupRequest(name, i.redis, 'autolytiq sandbox Redis'))),
        'ReplicationGroupNotFoundFault',
      ),
    ])
    log(`seeded EKS cluster ${i.clusterName}, Aurora cluster ${name}, ElastiCache group ${name}`)
    const databaseEndpoint = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: name }))).DBClusters?.[0]?.Endpoint
    if (!databaseEndpoint) throw new Error(`moto reports no endpoint for the Aurora cluster ${name}`)
    const group = (await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: name }))).ReplicationGroups?.[0]?.NodeGroups?.[0]
    const redisEndpoints = [group?.PrimaryEndpoint?.Address, group?.ReaderEndpoint?.Address].filter((a): a is string => Boolean(a))
    if (!redisEndpoints[0]) throw new Error(`moto reports no primary endpoint for the ElastiCache group ${name}`)
    const secrets = sandboxSecrets({ ...i, postgres: { ...i.postgres, host: databaseEndpoint }, redis: { ...i.redis, host: redisEndpoints[0] } })
    for (const [secret, value] of Object.entries(secrets)) {
      const id = `autolytiq/${i.envName}/${secret}`
      const SecretString = JSON.stringify(value)
      try {
        await sm.send(new CreateSecretCommand({ Name: id, SecretString, Description: `autolytiq ${i.envName} ${secret} (sandbox)` }))
      } catch (err) {
        if (!(err instanceof ResourceExistsException)) throw err
        await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString }))
      }
    }
    log(`seeded ${Object.keys(secrets).length} secrets autolytiq/${i.envName}/*`)
    return { databaseEndpoint, redisEndpoints }
  } finally {
    for (const c of [eks, rds, ec, sm]) c.destroy()
  }
}
