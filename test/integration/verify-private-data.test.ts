/**
 * #16 item 1: the database and Redis security groups admit only the EKS cluster, so from the
 * engineer's machine SELECT 1 and PING cannot connect however healthy they are. verify then proves
 * them from inside the cluster with a short-lived Job (the services' own Secret through envFrom),
 * watched to completion and deleted. Real API server, Job controller and node simulator; the
 * simulator plays the kubelet, so the Job's container (psql / redis-cli) does not really run here:
 * its success is the simulator's, and what is proven is the Job's life cycle and the check's logic.
 */
import { randomBytes } from 'node:crypto'
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { runChecks } from '../../src/checks/run.js'
import { selectOneCheck } from '../../src/checks/database.js'
import { redisPingCheck } from '../../src/checks/redis.js'
import { AppSecret } from '../../src/checks/secrets.js'
import { probeJob } from '../../src/checks/in-cluster-probe.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const id = randomBytes(3).toString('hex')
const namespace = `private-data-${id}`
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`

describe.skipIf(!kube)('database and Redis private to the VPC: proven from inside the cluster', () => {
  let kc: KubeConfig
  let t: TestContext

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    const core = kc.makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'autolytiq-secrets' },
        stringData: {
          // names only the VPC resolver answers for (an address with no route gives ETIMEDOUT the same way)
          DATABASE_URL: `postgres://app:${PASSWORD}@autolytiq-test.cluster-abc.us-east-1.rds.invalid:5432/autolytiq`,
          REDIS_URL: `rediss://:${PASSWORD}@autolytiq-test.abc.ng.0001.use1.cache.invalid:6379`,
        },
      },
    })
    t = await testContext({ env: { kubeconfig: kube!.kubeconfigPath, namespace } })
  })
  afterAll(async () => {
    t?.cleanup()
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {})
  })

  it('SELECT 1 and PING pass from a probe Job when this machine cannot reach them; the Jobs are gone after', async () => {
    const secret = new AppSecret(t.ctx)
    const reports = await runChecks(t.ctx, [selectOneCheck(secret, 10_000), redisPingCheck(secret, 10_000)])
    for (const r of reports) {
      expect(r.status, r.detail).toBe('pass')
      expect(r.detail).toMatch(
        /from inside the cluster \(Job autolytiq-probe-(postgres|redis)-[0-9a-f]{6}, \d+ ms\); not reachable from this machine \(.+\) — private to the VPC, as designed$/,
      )
      expect(r.detail).not.toContain(PASSWORD)
    }
    expect(reports[0]!.detail).toMatch(/^SELECT 1 on autolytiq-test\.cluster-abc\.us-east-1\.rds\.invalid:5432\/autolytiq from inside the cluster/)
    expect(reports[1]!.detail).toMatch(/^PING to autolytiq-test\.abc\.ng\.0001\.use1\.cache\.invalid:6379 from inside the cluster/)
    // cleaned up: deleted at once (background propagation), ttlSecondsAfterFinished as a safety net
    const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace, labelSelector: 'app.kubernetes.io/name=autolytiq-probe' })
    expect(jobs.items.filter((j) => !j.metadata?.deletionTimestamp)).toEqual([])
  })

  it('the probe Job carries no secret: the URL comes from the Secret through envFrom; it passes restricted pod security', () => {
    const job = probeJob(t.ctx, 'postgres', 'autolytiq-probe-postgres-abcdef', 30_000)
    expect(JSON.stringify(job)).not.toContain(PASSWORD)
    const pod = job.spec!.template.spec!
    expect(pod.containers[0]!.envFrom).toEqual([{ secretRef: { name: 'autolytiq-secrets' } }])
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
    expect(pod.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    expect(job.spec).toMatchObject({ backoffLimit: 0, ttlSecondsAfterFinished: 300 })
  })
})
