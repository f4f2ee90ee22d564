/**
 * The stand-ins' `envFrom` (src/sandbox/controllers/standin-env.ts) on the real control plane:
 * a changed Secret reaches a stand-in only through new pods of its Deployment, as a kubelet gives
 * a pod the Secret's values when the pod starts and never after.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { startStandinEnv } from '../../src/sandbox/controllers/standin-env.js'

const kube = inject('kube')
const ns = `standin-env-${randomBytes(3).toString('hex')}`
const URL_A = 'postgres://app:pw-a@cluster-a.example.test:5432/desk'
const URL_B = 'postgres://app:pw-b@cluster-b.example.test:5432/desk'

let kc: KubeConfig
let core: CoreV1Api
let apps: AppsV1Api
let follower: { stop(): Promise<void> }
const sent: { service: string; env: Record<string, string> }[] = []
const logs: string[] = []

const secret = (url: string) => ({ metadata: { name: 'autolytiq-secrets', namespace: ns }, data: { DATABASE_URL: Buffer.from(url).toString('base64') } })

async function scale(replicas: number): Promise<void> {
  await apps.patchNamespacedDeploymentScale(
    { name: 'deal-service', namespace: ns, body: { spec: { replicas } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )
  const deadline = Date.now() + 60_000
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp)
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    if (pods.length === replicas && ready.length === replicas) return
    if (Date.now() > deadline) throw new Error(`deal-service did not reach ${replicas} ready pods`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe.skipIf(!kube)('stand-in env: a Secret change reaches a stand-in through new pods only', () => {
  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    core = kc.makeApiClient(CoreV1Api)
    apps = kc.makeApiClient(AppsV1Api)
    await core.createNamespace({ body: { metadata: { name: ns } } })
    await core.createNamespacedSecret({ namespace: ns, body: secret(URL_A) })
    follower = await startStandinEnv(kc, {
      namespace: ns,
      secret: 'autolytiq-secrets',
      key: 'DATABASE_URL',
      initial: { 'deal-service': URL_A },
      send: (service, env) => (sent.push({ service, env }), true),
      log: (m) => logs.push(m),
    })
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'deal-service' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'deal-service' } },
          template: { metadata: { labels: { app: 'deal-service' } }, spec: { containers: [{ name: 'deal-service', image: 'deal-service:v1' }] } },
        },
      },
    })
    await scale(1)
  }, 90_000)

  afterAll(async () => {
    await follower?.stop()
    await core?.deleteNamespace({ name: ns }).catch(() => {})
  })

  it('pods that read the value the stand-in has change nothing; a changed Secret waits for new pods', async () => {
    expect(sent).toEqual([])

    await core.replaceNamespacedSecret({ name: 'autolytiq-secrets', namespace: ns, body: secret(URL_B) })
    await new Promise((r) => setTimeout(r, 1500)) // the running pod keeps what it read
    expect(sent).toEqual([])

    await scale(0)
    await scale(1)
    await expect.poll(() => sent, { timeout: 10_000 }).toEqual([{ service: 'deal-service', env: { DATABASE_URL: URL_B } }])
    // the log names the host, never the URL with its password
    expect(logs.join('\n')).toContain('host cluster-b.example.test:5432')
    expect(logs.join('\n')).not.toContain('pw-b')
  }, 120_000)

  it('a stand-in started before the go-live (no value) takes the Secret with its first pod, or when the Secret appears after the pod', async () => {
    const ns2 = `${ns}-first`
    const got: { service: string; env: Record<string, string> }[] = []
    await core.createNamespace({ body: { metadata: { name: ns2 } } })
    const first = await startStandinEnv(kc, {
      namespace: ns2,
      secret: 'autolytiq-secrets',
      key: 'DATABASE_URL',
      initial: { 'deal-service': '', 'user-service': '' },
      send: (service, env) => (got.push({ service, env }), true),
      log: () => {},
    })
    const deployment = (name: string) => ({
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `${name}:v1` }] } },
      },
    })
    try {
      // user-service's pod starts before the ExternalSecret has synced: nothing to give yet
      await apps.createNamespacedDeployment({ namespace: ns2, body: deployment('user-service') })
      await expect.poll(async () => (await core.listNamespacedPod({ namespace: ns2 })).items.length, { timeout: 30_000 }).toBe(1)
      await new Promise((r) => setTimeout(r, 1000))
      expect(got).toEqual([])
      // the Secret appears: the waiting stand-in takes it
      await core.createNamespacedSecret({ namespace: ns2, body: { ...secret(URL_A), metadata: { name: 'autolytiq-secrets', namespace: ns2 } } })
      await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ service: 'user-service', env: { DATABASE_URL: URL_A } }])
      // deal-service's first pod starts after it: it reads the Secret at start
      await apps.createNamespacedDeployment({ namespace: ns2, body: deployment('deal-service') })
      await expect
        .poll(() => got, { timeout: 30_000 })
        .toEqual([
          { service: 'user-service', env: { DATABASE_URL: URL_A } },
          { service: 'deal-service', env: { DATABASE_URL: URL_A } },
        ])
    } finally {
      await first.stop()
      await core.deleteNamespace({ name: ns2 }).catch(() => {})
    }
  }, 120_000)
})
