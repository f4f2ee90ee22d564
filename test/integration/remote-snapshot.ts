/**
 * Snapshots of what a command could touch outside this machine, for "AWS and Kubernetes state
 * unchanged" assertions (the bad-input corpus, test/integration/bad-input-remote.test.ts): take
 * one before and one after, and compare them with toEqual.
 *
 * AWS: one moto account's ECR repositories and image tags, Secrets Manager secrets (with their
 * version ids, so a put of a new value shows), Route53 zones and record sets, RDS clusters,
 * instances and cluster snapshots, S3 buckets with every object version, DynamoDB tables and
 * items. Kubernetes: every object of the kinds the CLI reads or writes in one namespace, by
 * kind/name with its resourceVersion, generation and container images.
 */
import { createHash } from 'node:crypto'
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr'
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { ListHostedZonesCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53'
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds'
import { ListBucketsCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3'
import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb'
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig, type V1ObjectMeta, type V1PodSpec } from '@kubernetes/client-node'
import type { SdkConfig } from './aws-project.js'

export type Snapshot = Record<string, unknown>

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16)

/** Everything the CLI's AWS calls could create, change or delete in the account of `sdk`. */
export async function awsSnapshot(sdk: SdkConfig): Promise<Snapshot> {
  const ecr = new ECRClient(sdk)
  const sm = new SecretsManagerClient(sdk)
  const r53 = new Route53Client(sdk)
  const rds = new RDSClient(sdk)
  const s3 = new S3Client(sdk)
  const ddb = new DynamoDBClient(sdk)
  try {
    const [ecrState, secrets, zones, rdsState, buckets, tables] = await Promise.all([
      (async () => {
        const repos = (await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []
        const out: Record<string, string[]> = {}
        for (const r of repos) {
          const images = (await ecr.send(new DescribeImagesCommand({ repositoryName: r.repositoryName! }))).imageDetails ?? []
          out[r.repositoryName!] = images.flatMap((i) => (i.imageTags ?? []).map((t) => `${t}@${i.imageDigest}`)).sort()
        }
        return out
      })(),
      (async () => {
        const list = (await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList ?? []
        return Object.fromEntries(
          list.map((s) => [s.Name!, { versions: s.SecretVersionsToStages, changed: s.LastChangedDate?.toISOString(), deleted: s.DeletedDate?.toISOString() }]),
        )
      })(),
      (async () => {
        const hz = (await r53.send(new ListHostedZonesCommand({}))).HostedZones ?? []
        const out: Record<string, string[]> = {}
        for (const z of hz) {
          const sets = (await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: z.Id! }))).ResourceRecordSets ?? []
          out[`${z.Name} ${z.Id}`] = sets.map((s) => `${s.Name} ${s.Type} ${JSON.stringify(s.ResourceRecords ?? s.AliasTarget ?? null)}`).sort()
        }
        return out
      })(),
      (async () => {
        const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? []
        const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []
        const snapshots = (await rds.send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? []
        return {
          clusters: clusters.map((c) => `${c.DBClusterIdentifier} ${c.Status} ${c.Endpoint} members=${(c.DBClusterMembers ?? []).length}`).sort(),
          instances: instances.map((i) => `${i.DBInstanceIdentifier} ${i.DBInstanceStatus} ${i.DBClusterIdentifier ?? ''}`).sort(),
          snapshots: snapshots.map((s) => `${s.DBClusterSnapshotIdentifier} ${s.Status} ${s.DBClusterIdentifier}`).sort(),
        }
      })(),
      (async () => {
        const list = (await s3.send(new ListBucketsCommand({}))).Buckets ?? []
        const out: Record<string, string[]> = {}
        for (const b of list) {
          const v = await s3.send(new ListObjectVersionsCommand({ Bucket: b.Name! }))
          out[b.Name!] = [
            ...(v.Versions ?? []).map((x) => `${x.Key} ${x.VersionId} ${x.ETag}${x.IsLatest ? ' latest' : ''}`),
            ...(v.DeleteMarkers ?? []).map((x) => `${x.Key} ${x.VersionId} delete-marker${x.IsLatest ? ' latest' : ''}`),
          ].sort()
        }
        return out
      })(),
      (async () => {
        const names = (await ddb.send(new ListTablesCommand({}))).TableNames ?? []
        const out: Record<string, string[]> = {}
        for (const TableName of names)
          out[TableName] = ((await ddb.send(new ScanCommand({ TableName }))).Items ?? []).map((i) => digest(JSON.stringify(i))).sort()
        return out
      })(),
    ])
    return { ecr: ecrState, secrets, route53: zones, rds: rdsState, s3: buckets, dynamodb: tables }
  } finally {
    for (const c of [ecr, sm, r53, rds, s3, ddb]) c.destroy()
  }
}

const images = (spec: V1PodSpec | undefined): string[] => (spec?.containers ?? []).map((c) => `${c.name}=${c.image}`)
const meta = (m: V1ObjectMeta | undefined): string => `${m?.name} rv=${m?.resourceVersion} gen=${m?.generation ?? '-'}`

/** Every object of the kinds the CLI reads or changes in `namespace`: kind/name, resourceVersion, generation, images. */
export async function kubeSnapshot(kc: KubeConfig, namespace: string): Promise<Snapshot> {
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const batch = kc.makeApiClient(BatchV1Api)
  const [ns, deployments, replicaSets, pods, cronJobs, jobs, secrets, configMaps, services] = await Promise.all([
    core.readNamespace({ name: namespace }),
    apps.listNamespacedDeployment({ namespace }),
    apps.listNamespacedReplicaSet({ namespace }),
    core.listNamespacedPod({ namespace }),
    batch.listNamespacedCronJob({ namespace }),
    batch.listNamespacedJob({ namespace }),
    core.listNamespacedSecret({ namespace }),
    core.listNamespacedConfigMap({ namespace }),
    core.listNamespacedService({ namespace }),
  ])
  const sorted = (xs: string[]): string[] => xs.sort()
  return {
    namespace: meta(ns.metadata),
    deployments: sorted(
      deployments.items.map(
        (d) =>
          `${meta(d.metadata)} replicas=${d.spec?.replicas} revision=${d.metadata?.annotations?.['deployment.kubernetes.io/revision']} ${images(d.spec?.template.spec)}`,
      ),
    ),
    replicaSets: sorted(replicaSets.items.map((r) => `${meta(r.metadata)} replicas=${r.spec?.replicas} ${images(r.spec?.template?.spec)}`)),
    pods: sorted(pods.items.map((p) => `${meta(p.metadata)} ${images(p.spec)}${p.metadata?.deletionTimestamp ? ' deleting' : ''}`)),
    cronJobs: sorted(cronJobs.items.map((c) => `${meta(c.metadata)} suspend=${c.spec?.suspend} ${images(c.spec?.jobTemplate.spec?.template.spec)}`)),
    jobs: sorted(jobs.items.map((j) => meta(j.metadata))),
    secrets: sorted(secrets.items.map((s) => meta(s.metadata))),
    configMaps: sorted(configMaps.items.map((c) => meta(c.metadata))),
    services: sorted(services.items.map((s) => meta(s.metadata))),
  }
}
