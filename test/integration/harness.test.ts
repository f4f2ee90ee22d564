/**
 * Proves the test harness: every shared component started by test/setup/global-setup.ts is a
 * real server that behaves like the real thing. No mocks.
 */
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import { Resolver } from 'node:dns/promises'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { execa } from 'execa'
import pg from 'pg'
import { Redis } from 'ioredis'
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, type V1Deployment, type V1Job, type V1Pod } from '@kubernetes/client-node'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb'
import { ACMClient, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm'
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53'
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr'
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CreateDBClusterCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { CreateReplicationGroupCommand, DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache'
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks'
import { awsConfigFor, startMoto } from '../harness/moto.js'
import { createStateBackend, createTerraformWorkspace } from '../harness/terraform.js'
import { watchUntil, watchUntilDeleted } from '../harness/kube-wait.js'
import { runKubectl } from '../harness/kube.js'
import { waitForPrometheusTarget } from '../harness/prometheus.js'
import { createTestPki, CERT_VARIANTS, type CertVariant, type TestPki } from '../harness/tls-certs.js'
import { redirectHandler, startHttpServer, startHttpsServer, type TestWebServer } from '../harness/https.js'
import { route53Source, startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { waitFor } from '../harness/wait.js'

const aws = inject('aws')
const kube = inject('kube')
const postgres = inject('postgres')
const redis = inject('redis')
const prometheus = inject('prometheus')
const alertmanager = inject('alertmanager')
const helm = inject('helmPath')

const suffix = () => randomBytes(3).toString('hex')

// ------------------------------------------------------------------------------------------
describe.skipIf(!kube)('kubernetes: real control plane + node simulator', () => {
  let kc: KubeConfig
  let apps: AppsV1Api
  let core: CoreV1Api
  let batch: BatchV1Api
  const ns = `harness-${suffix()}`

  const deployment = (name: string, image: string, replicas = 2): V1Deployment => ({
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  })
  const kubectl = (args: string[]) => runKubectl(kube!.kubectlPath, kube!.kubeconfigPath, args)
  const rolledOut = (d: V1Deployment) =>
    (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
    d.status?.updatedReplicas === d.spec?.replicas &&
    d.status?.availableReplicas === d.spec?.replicas &&
    (d.status?.replicas ?? 0) === d.spec?.replicas
  const watchDeployment = (name: string, predicate: (d: V1Deployment) => boolean, timeoutMs = 30_000) =>
    watchUntil<V1Deployment>(kc, `/apis/apps/v1/namespaces/${ns}/deployments`, predicate, {
      fieldSelector: `metadata.name=${name}`,
      timeoutMs,
      what: `deployment ${ns}/${name}`,
    })

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    apps = kc.makeApiClient(AppsV1Api)
    core = kc.makeApiClient(CoreV1Api)
    batch = kc.makeApiClient(BatchV1Api)
    await core.createNamespace({ body: { metadata: { name: ns } } })
  })
  afterAll(async () => {
    await core?.deleteNamespace({ name: ns }).catch(() => {})
  })

  it('has a Ready simulated node', async () => {
    const node = await core.readNode({ name: kube!.nodeName })
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True')
    expect(node.status?.allocatable?.pods).toBe('250')
  })

  it('a Deployment becomes available, a template change makes revision 2, kubectl rollout undo restores v1', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 'registry.local/web:v1') })
    const d1 = await watchDeployment('web', rolledOut)
    expect(d1.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True')

    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })
    expect(pods.items).toHaveLength(2)
    for (const p of pods.items) {
      expect(p.spec?.nodeName).toBe(kube!.nodeName)
      expect(p.status?.phase).toBe('Running')
      expect(p.status?.podIP).toMatch(/^10\.244\./)
      expect(p.status?.conditions?.map((c) => c.type)).toEqual(expect.arrayContaining(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']))
      const cs = p.status?.containerStatuses?.[0]
      expect(cs?.ready).toBe(true)
      expect(cs?.started).toBe(true)
      expect(cs?.restartCount).toBe(0)
      expect(cs?.imageID).toContain('sha256:')
      expect(cs?.state?.running?.startedAt).toBeTruthy()
    }

    // change the pod template: the deployment controller makes a second ReplicaSet
    await apps.patchNamespacedDeployment({
      name: 'web',
      namespace: ns,
      body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'registry.local/web:v2' }],
    })
    await watchDeployment('web', (d) => rolledOut(d) && d.spec?.template.spec?.containers[0]?.image === 'registry.local/web:v2')
    const rs = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=web' })
    const revisions = rs.items.map((r) => [r.metadata?.annotations?.['deployment.kubernetes.io/revision'], r.spec?.template?.spec?.containers[0]?.image])
    expect(revisions).toEqual(
      expect.arrayContaining([
        ['1', 'registry.local/web:v1'],
        ['2', 'registry.local/web:v2'],
      ]),
    )

    // the real kubectl, built with the control plane, against the harness kubeconfig
    const undo = await kubectl(['-n', ns, 'rollout', 'undo', 'deployment/web'])
    expect(undo.exitCode, undo.stderr).toBe(0)
    const status = await kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=60s'])
    expect(status.exitCode, status.stderr).toBe(0)
    expect(status.stdout).toContain('successfully rolled out')
    const d3 = await watchDeployment('web', (d) => rolledOut(d) && d.spec?.template.spec?.containers[0]?.image === 'registry.local/web:v1')
    expect(d3.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3')
    const history = await kubectl(['-n', ns, 'rollout', 'history', 'deployment/web'])
    expect(history.stdout).toMatch(/^2\s/m)
    expect(history.stdout).toMatch(/^3\s/m)
  })

  it('a Service gets ready EndpointSlice endpoints from the simulated pod IPs', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('api', 'registry.local/api:v1') })
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'api' }, spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] } },
    })
    const slice = await watchUntil<{ metadata?: { name?: string }; endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }>(
      kc,
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      (s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).length === 2,
      { labelSelector: 'kubernetes.io/service-name=api', what: 'endpointslice for service api' },
    )
    expect(slice.endpoints?.every((e) => e.addresses[0]?.startsWith('10.244.'))).toBe(true)
    // and the same through kubectl, as an operator would look at it
    const out = await kubectl(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=api', '-o', 'json'])
    const items = JSON.parse(out.stdout).items as { endpoints: { conditions: { ready: boolean } }[] }[]
    expect(items.flatMap((i) => i.endpoints).filter((e) => e.conditions.ready)).toHaveLength(2)
  })

  it('an image tag with "crash" gives CrashLoopBackOff with a rising restartCount', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('crasher', 'registry.local/api:v2-crash', 1) })
    const podPath = `/api/v1/namespaces/${ns}/pods`
    const first = await watchUntil<V1Pod>(kc, podPath, (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff', {
      labelSelector: 'app=crasher',
      what: 'crasher pod in CrashLoopBackOff',
    })
    const cs = first.status?.containerStatuses?.[0]
    expect(cs?.ready).toBe(false)
    const rising = await watchUntil<V1Pod>(kc, podPath, (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 5, {
      labelSelector: 'app=crasher',
      timeoutMs: 20_000,
      what: 'crasher restartCount >= 5',
    })
    const last = rising.status?.containerStatuses?.[0]
    expect(last?.lastState?.terminated?.exitCode).toBe(1)
    expect(last?.lastState?.terminated?.reason).toBe('Error')
    expect(last?.lastState?.terminated?.message).toBe('panic: simulated crash')
    const d = await apps.readNamespacedDeployment({ name: 'crasher', namespace: ns })
    expect(d.status?.availableReplicas ?? 0).toBe(0)
  })

  it('an image tag with "missing" gives ImagePullBackOff', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('nopull', 'registry.local/api:v9-missing', 1) })
    const pod = await watchUntil<V1Pod>(
      kc,
      `/api/v1/namespaces/${ns}/pods`,
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
      { labelSelector: 'app=nopull', what: 'nopull pod in ImagePullBackOff' },
    )
    expect(pod.status?.phase).toBe('Pending')
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain('Back-off pulling image')
  })

  it('a Job completes; a Job whose image contains "fail" fails', async () => {
    const job = (name: string, image: string): V1Job => ({
      metadata: { name },
      spec: {
        backoffLimit: 0, // one pod, no retries with exponential back-off
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image }] } },
      },
    })
    await batch.createNamespacedJob({ namespace: ns, body: job('migrate-ok', 'registry.local/migrate:v1') })
    await batch.createNamespacedJob({ namespace: ns, body: job('migrate-bad', 'registry.local/migrate:v1-fail') })
    const cond = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false
    const jobsPath = `/apis/batch/v1/namespaces/${ns}/jobs`
    const ok = await watchUntil<V1Job>(kc, jobsPath, (j) => cond(j, 'Complete'), { fieldSelector: 'metadata.name=migrate-ok' })
    expect(ok.status?.succeeded).toBe(1)
    const bad = await watchUntil<V1Job>(kc, jobsPath, (j) => cond(j, 'Failed'), { fieldSelector: 'metadata.name=migrate-bad' })
    expect(bad.status?.failed).toBe(1)
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=migrate-bad' })
    expect(pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1)
  })

  it('deleting a namespace removes its pods', async () => {
    const doomed = `doomed-${suffix()}`
    await core.createNamespace({ body: { metadata: { name: doomed } } })
    const d = deployment('victim', 'registry.local/web:v1', 3)
    await apps.createNamespacedDeployment({ namespace: doomed, body: d })
    await watchUntil<V1Deployment>(kc, `/apis/apps/v1/namespaces/${doomed}/deployments`, rolledOut, { fieldSelector: 'metadata.name=victim' })
    expect((await core.listNamespacedPod({ namespace: doomed })).items).toHaveLength(3)
    await core.deleteNamespace({ name: doomed })
    await watchUntilDeleted(kc, '/api/v1/namespaces', doomed, { timeoutMs: 60_000 })
    expect((await core.listNamespacedPod({ namespace: doomed })).items).toHaveLength(0)
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!aws)('aws: moto server through the real SDK v3', () => {
  const cfg = () => awsConfigFor(aws!.endpoint)

  it('STS GetCallerIdentity', async () => {
    const id = await new STSClient(cfg()).send(new GetCallerIdentityCommand({}))
    expect(id.Account).toMatch(/^\d{12}$/)
    expect(id.Arn).toContain('arn:aws:')
  })

  it('S3 bucket with versioning and a public access block', async () => {
    const s3 = new S3Client(cfg())
    const Bucket = `harness-${suffix()}`
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      }),
    )
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled')
    expect((await s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration?.BlockPublicAcls).toBe(true)
  })

  it('DynamoDB table with a conditional write', async () => {
    const ddb = new DynamoDBClient(cfg())
    const TableName = `harness-${suffix()}`
    await ddb.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    )
    expect((await ddb.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus).toBe('ACTIVE')
    const put = () => ddb.send(new PutItemCommand({ TableName, Item: { id: { S: 'lock' } }, ConditionExpression: 'attribute_not_exists(id)' }))
    await put()
    await expect(put()).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' })
    expect((await ddb.send(new GetItemCommand({ TableName, Key: { id: { S: 'lock' } } }))).Item?.id?.S).toBe('lock')
  })

  it('ACM RequestCertificate with DNS validation is PENDING_VALIDATION', async () => {
    const acm = new ACMClient(cfg())
    const { CertificateArn } = await acm.send(
      new RequestCertificateCommand({
        DomainName: `api-${suffix()}.sandbox.autolytiq.local`,
        ValidationMethod: 'DNS',
      }),
    )
    const c = await acm.send(new DescribeCertificateCommand({ CertificateArn }))
    expect(c.Certificate?.Status).toBe('PENDING_VALIDATION')
    expect(c.Certificate?.DomainValidationOptions?.[0]?.ResourceRecord?.Type).toBe('CNAME')
  })

  it('Route53 hosted zone with an UPSERTed alias A record', async () => {
    const r53 = new Route53Client(cfg())
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: `z${suffix()}.autolytiq.local`, CallerReference: suffix() }))
    const upsert = () =>
      r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zone.HostedZone!.Id,
          ChangeBatch: {
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: `api.${zone.HostedZone!.Name}`,
                  Type: 'A',
                  AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'my-alb-1.us-east-1.elb.amazonaws.com', EvaluateTargetHealth: false },
                },
              },
            ],
          },
        }),
      )
    expect((await upsert()).ChangeInfo?.Status).toBeTruthy()
    expect((await upsert()).ChangeInfo?.Status).toBeTruthy() // idempotent, unlike CREATE
  })

  it('ECR repository', async () => {
    const ecr = new ECRClient(cfg())
    const repositoryName = `autolytiq/svc-${suffix()}`
    await ecr.send(new CreateRepositoryCommand({ repositoryName }))
    const r = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] }))
    expect(r.repositories?.[0]?.repositoryUri).toContain(repositoryName)
  })

  it('Secrets Manager secret', async () => {
    const sm = new SecretsManagerClient(cfg())
    const Name = `autolytiq/sandbox/${suffix()}`
    await sm.send(new CreateSecretCommand({ Name, SecretString: '{"password":"s3cr3t"}' }))
    expect((await sm.send(new GetSecretValueCommand({ SecretId: Name }))).SecretString).toBe('{"password":"s3cr3t"}')
  })

  it('RDS Aurora PostgreSQL cluster', async () => {
    const rds = new RDSClient(cfg())
    const DBClusterIdentifier = `autolytiq-${suffix()}`
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier,
        Engine: 'aurora-postgresql',
        MasterUsername: 'autolytiq',
        MasterUserPassword: 'password123',
      }),
    )
    const c = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier }))
    expect(c.DBClusters?.[0]?.Engine).toBe('aurora-postgresql')
    expect(c.DBClusters?.[0]?.Status).toBe('available')
    expect(c.DBClusters?.[0]?.Endpoint).toBeTruthy()
  })

  it('ElastiCache replication group', async () => {
    const ec = new ElastiCacheClient(cfg())
    const ReplicationGroupId = `ac-${suffix()}`
    await ec.send(
      new CreateReplicationGroupCommand({
        ReplicationGroupId,
        ReplicationGroupDescription: 'harness',
        Engine: 'redis',
        CacheNodeType: 'cache.t3.micro',
        NumCacheClusters: 1,
        TransitEncryptionEnabled: true,
      }),
    )
    const g = await ec.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId }))
    expect(g.ReplicationGroups?.[0]?.ReplicationGroupId).toBe(ReplicationGroupId)
  })

  it('EKS cluster becomes ACTIVE', async () => {
    const eks = new EKSClient(cfg())
    const name = `autolytiq-${suffix()}`
    await eks.send(
      new CreateClusterCommand({
        name,
        roleArn: 'arn:aws:iam::123456789012:role/eks',
        resourcesVpcConfig: { subnetIds: ['subnet-1', 'subnet-2'] },
      }),
    )
    const status = await waitFor(
      'EKS cluster ACTIVE',
      async () => {
        const c = await eks.send(new DescribeClusterCommand({ name }))
        return c.cluster?.status === 'ACTIVE' ? c.cluster.status : undefined
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    )
    expect(status).toBe('ACTIVE')
  })

  it('reset() wipes a moto instance', async () => {
    const moto = await startMoto()
    try {
      const s3 = new S3Client(moto.awsConfig())
      await s3.send(new CreateBucketCommand({ Bucket: 'to-be-reset' }))
      expect((await s3.send(new ListBucketsCommand({}))).Buckets).toHaveLength(1)
      await moto.reset()
      expect((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).toHaveLength(0)
    } finally {
      await moto.stop()
    }
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!aws)('terraform: real binary, S3 backend on moto', () => {
  it('init / plan -out / apply / output -json twice leaves two S3 versions of the state', async () => {
    const backend = await createStateBackend(aws!.endpoint)
    const ws = await createTerraformWorkspace({ backend })
    try {
      await ws.init()
      await ws.apply(await ws.plan({ image_tag: 'v1' }))
      expect((await ws.output()).image_tag?.value).toBe('v1')
      await ws.apply(await ws.plan({ image_tag: 'v2' }))
      const out = await ws.output()
      expect(out.image_tag?.value).toBe('v2')
      expect(out.environment?.value).toBe('sandbox')

      const s3 = new S3Client(awsConfigFor(aws!.endpoint))
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: backend.bucket, Prefix: backend.key }))
      expect(versions.Versions?.filter((v) => v.Key === backend.key)).toHaveLength(2)
      // the backend used the DynamoDB lock table (it stores the state digest there)
      const ddb = new DynamoDBClient(awsConfigFor(aws!.endpoint))
      const items = await ddb.send(new ScanCommand({ TableName: backend.dynamodbTable }))
      expect(items.Items?.map((i) => i.LockID?.S)).toContain(`${backend.bucket}/${backend.key}-md5`)
    } finally {
      await ws.cleanup()
    }
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!postgres)('postgresql', () => {
  it('answers SELECT 1 with password auth', async () => {
    const c = new pg.Client({ connectionString: postgres!.url })
    await c.connect()
    try {
      expect((await c.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 })
    } finally {
      await c.end()
    }
  })

  it('rejects a wrong password', async () => {
    const c = new pg.Client({ connectionString: postgres!.url.replace(postgres!.password, 'wrong') })
    await expect(c.connect()).rejects.toThrow(/password authentication failed/)
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!redis)('redis over TLS with AUTH', () => {
  /** A client that does not retry, and remembers the server's error replies. */
  const client = (password?: string) => {
    const errors: string[] = []
    const r = new Redis({
      host: redis!.host,
      port: redis!.port,
      password,
      tls: { ca: readFileSync(redis!.caPath, 'utf8'), servername: 'localhost' },
      // no INFO ready-check: without a password it would fail before our PING
      enableReadyCheck: false,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    r.on('error', (e: Error) => errors.push(e.message))
    return { r, errors }
  }

  it('PING with the password', async () => {
    const { r } = client(redis!.password)
    try {
      await r.connect()
      expect(await r.ping()).toBe('PONG')
    } finally {
      r.disconnect()
    }
  })

  it('refuses without a password and with a wrong one', async () => {
    const none = client()
    try {
      await none.r.connect() // TLS handshake works; the command is refused
      await expect(none.r.ping()).rejects.toThrow(/NOAUTH/)
    } finally {
      none.r.disconnect()
    }
    const wrong = client('wrong-password')
    try {
      // ioredis sends AUTH while connecting, and closes the connection when it is refused
      await expect(wrong.r.connect().then(() => wrong.r.ping())).rejects.toThrow()
      expect(wrong.errors.join('\n')).toMatch(/WRONGPASS/)
    } finally {
      wrong.r.disconnect()
    }
  })

  it('the rediss:// URL works as given', async () => {
    const r = new Redis(redis!.url, { tls: { ca: readFileSync(redis!.caPath, 'utf8'), servername: 'localhost' }, lazyConnect: true, maxRetriesPerRequest: 0 })
    try {
      await r.connect()
      expect(await r.ping()).toBe('PONG')
    } finally {
      r.disconnect()
    }
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!prometheus || !alertmanager)('prometheus and alertmanager', () => {
  it('Prometheus reports its targets up', async () => {
    const targets = await waitForPrometheusTarget(prometheus!.url, 'alertmanager')
    expect(targets[0]?.health).toBe('up')
    const q = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent('up{job="alertmanager"}')}`)
    const body = (await q.json()) as { data: { result: { value: [number, string] }[] } }
    expect(body.data.result[0]?.value[1]).toBe('1')
  })

  it('an alert posted to Alertmanager v2 is listed and delivered to the webhook', async () => {
    const alertname = `HarnessTest${suffix()}`
    const post = await fetch(`${alertmanager!.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname, severity: 'critical', service: 'deal-service' }, annotations: { summary: 'harness' } }]),
    })
    expect(post.status).toBe(200)
    const listed = (await (await fetch(`${alertmanager!.url}/api/v2/alerts?filter=alertname%3D${alertname}`)).json()) as {
      labels: Record<string, string>
      status: { state: string }
    }[]
    expect(listed).toHaveLength(1)
    expect(listed[0]?.status.state).toBe('active')
    // the sink lives in the global-setup process: read its deliveries over HTTP
    const delivered = await waitFor(
      'webhook delivery',
      async () => {
        const all = (await (await fetch(alertmanager!.webhookUrl)).json()) as { alerts?: { labels: Record<string, string> }[] }[]
        return all.find((n) => n.alerts?.some((a) => a.labels.alertname === alertname))
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    expect(delivered.alerts?.[0]?.labels.severity).toBe('critical')
  })
})

// ------------------------------------------------------------------------------------------
describe('TLS certificates and HTTPS servers', () => {
  let dir: string
  let pki: TestPki
  const servers: TestWebServer[] = []
  beforeAll(async () => {
    dir = makeTempDir('harness-tls')
    pki = await createTestPki(dir)
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    removeTempDir(dir)
  })

  /** Connects with Node's tls, trusting the test CA and sending the hostname as SNI. */
  const handshake = (port: number) =>
    new Promise<{ cert: PeerCertificate; authorized: boolean }>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: pki.hostname, ca: pki.caCert }, () => {
        resolve({ cert: socket.getPeerCertificate(), authorized: socket.authorized })
        socket.end()
      })
      socket.on('error', reject)
    })
  const serve = async (variant: CertVariant) => {
    const s = await startHttpsServer({ pki, variant })
    servers.push(s)
    return s
  }

  it('makes all four variants', () => {
    for (const v of CERT_VARIANTS) expect(pki.leaf(v).cert).toContain('BEGIN CERTIFICATE')
  })

  it('valid: verifies, and serves HTTPS', async () => {
    const s = await serve('valid')
    const { authorized, cert } = await handshake(s.port)
    expect(authorized).toBe(true)
    expect(cert.subjectaltname).toContain(`DNS:${pki.hostname}`)
    const curl = await execa('curl', ['-sS', '--cacert', pki.caCertPath, '--resolve', `${pki.hostname}:${s.port}:127.0.0.1`, `${s.hostnameUrl}/health`], {
      reject: false,
    })
    if (curl.exitCode !== 127) expect(JSON.parse(curl.stdout)).toEqual({ status: 'ok' })
  })

  it('expired: CERT_HAS_EXPIRED', async () => {
    const s = await serve('expired')
    await expect(handshake(s.port)).rejects.toMatchObject({ code: 'CERT_HAS_EXPIRED' })
  })

  it('wrong host: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const s = await serve('wrong-host')
    await expect(handshake(s.port)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })

  it('expiring soon: valid, valid_to within 5 days', async () => {
    const s = await serve('expiring-soon')
    const { authorized, cert } = await handshake(s.port)
    expect(authorized).toBe(true)
    const left = new Date(cert.valid_to).getTime() - Date.now()
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThanOrEqual(5 * 24 * 3600 * 1000)
  })

  it('an HTTP server redirects to HTTPS', async () => {
    const https = await serve('valid')
    const http = await startHttpServer(redirectHandler(https.hostnameUrl))
    servers.push(http)
    const res = await fetch(`${http.url}/login?x=1`, { redirect: 'manual' })
    expect(res.status).toBe(301)
    expect(res.headers.get('location')).toBe(`${https.hostnameUrl}/login?x=1`)
  })
})

// ------------------------------------------------------------------------------------------
describe('DNS server', () => {
  let dns: TestDnsServer
  afterAll(async () => {
    await dns?.stop()
  })

  it('answers A and CNAME from its record map, NXDOMAIN otherwise, and follows changes', async () => {
    dns = await startDnsServer({
      records: {
        'api.sandbox.autolytiq.local': [{ type: 'A', address: '127.0.0.1' }],
        'www.sandbox.autolytiq.local': [{ type: 'CNAME', target: 'api.sandbox.autolytiq.local' }],
      },
    })
    const resolver = new Resolver()
    resolver.setServers([dns.server])
    expect(await resolver.resolve4('api.sandbox.autolytiq.local')).toEqual(['127.0.0.1'])
    expect(await resolver.resolveCname('www.sandbox.autolytiq.local')).toEqual(['api.sandbox.autolytiq.local'])
    expect(await resolver.resolve4('www.sandbox.autolytiq.local')).toEqual(['127.0.0.1'])
    await expect(resolver.resolve4('nope.sandbox.autolytiq.local')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    dns.set('api.sandbox.autolytiq.local', [{ type: 'A', address: '10.9.8.7' }])
    expect(await resolver.resolve4('api.sandbox.autolytiq.local')).toEqual(['10.9.8.7'])
  })

  it.skipIf(!aws)('answers from Route53 records stored in moto', async () => {
    const r53 = new Route53Client(awsConfigFor(aws!.endpoint))
    const zoneName = `z${suffix()}.autolytiq.local`
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: suffix() }))
    const HostedZoneId = zone.HostedZone!.Id!
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId,
        ChangeBatch: {
          Changes: [
            { Action: 'UPSERT', ResourceRecordSet: { Name: `db.${zoneName}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.1.2.3' }] } },
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: `api.${zoneName}`,
                Type: 'A',
                AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'my-alb-1.us-east-1.elb.amazonaws.com', EvaluateTargetHealth: false },
              },
            },
          ],
        },
      }),
    )
    const r53dns = await startDnsServer({
      records: { 'my-alb-1.us-east-1.elb.amazonaws.com': [{ type: 'A', address: '127.0.0.1' }] },
      source: route53Source(awsConfigFor(aws!.endpoint), HostedZoneId),
    })
    try {
      const resolver = new Resolver()
      resolver.setServers([r53dns.server])
      expect(await resolver.resolve4(`db.${zoneName}`)).toEqual(['10.1.2.3'])
      expect(await resolver.resolve4(`api.${zoneName}`)).toEqual(['127.0.0.1'])
    } finally {
      await r53dns.stop()
    }
  })
})

// ------------------------------------------------------------------------------------------
describe.skipIf(!helm)('helm', () => {
  it('runs', async () => {
    const r = await execa(helm!, ['version', '--short'])
    expect(r.stdout).toMatch(/^v\d+\./)
  })
})
