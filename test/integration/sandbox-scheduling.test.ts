/**
 * #16 item 6 on the real control plane: simulated EKS nodes with the allocatable CPU of their
 * instance types. A pod that fits nowhere stays Pending with kube-scheduler's Unschedulable
 * condition; a rollout waiting on it fails fast naming it; verify reports it; it is scheduled
 * once room is freed. A second node simulator with its own scheduler name and nodes shares the
 * harness's cluster (as a second scheduler would), so the harness's roomy node is not involved.
 */
import { randomBytes } from 'node:crypto'
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { KubeClients } from '../../src/clients/kube.js'
import { podProblem } from '../../src/checks/k8s-view.js'
import { RolloutFailedError, waitForRollouts } from '../../src/k8s/rollout.js'
import { eksNodesFor } from '../../src/sandbox/components/eks-nodes.js'
import { startNodeSimulator, type NodeSimulator } from '../../src/sandbox/components/node-simulator.js'

const kube = inject('kube')
const id = randomBytes(3).toString('hex')
const schedulerName = `eks-sim-${id}`
const namespace = `sched-${id}`

describe.skipIf(!kube)('simulated EKS nodes (#16 item 6)', () => {
  let kc: KubeConfig
  let core: CoreV1Api
  let sim: NodeSimulator
  const nodes = eksNodesFor('us-east-1', { eks_node_desired_size: 2, eks_database_node_size: { desired: 1 } }).map((n) => ({ ...n, name: `${n.name}-${id}` }))

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    core = kc.makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    sim = await startNodeSimulator({ kubeConfig: kc, nodes, schedulerName, events: true })
  })
  afterAll(async () => {
    await sim?.stop()
    await core.deleteNamespace({ name: namespace }).catch(() => {})
    for (const n of nodes) await core.deleteNode({ name: n.name }).catch(() => {})
  })

  const podSpec = (cpu: string) => ({
    schedulerName,
    containers: [{ name: 'app', image: 'autolytiq/app:v1', resources: { requests: { cpu, memory: '256Mi' } } }],
  })
  const read = (name: string): Promise<V1Pod> => core.readNamespacedPod({ name, namespace })

  it('nodes report the allocatable CPU and memory of a t3.large on EKS, the database group its taint', async () => {
    const general = await core.readNode({ name: nodes[0]!.name })
    expect(general.status?.allocatable).toMatchObject({ cpu: '1930m', pods: '35' })
    expect(general.metadata?.labels).toMatchObject({ 'node.kubernetes.io/instance-type': 't3.large', workload: 'general' })
    const db = await core.readNode({ name: nodes[2]!.name })
    expect(db.spec?.taints).toEqual([{ key: 'workload', value: 'database', effect: 'NoSchedule' }])
  })

  it('a pod that fits nowhere stays Pending/Unschedulable with the scheduler message; it is placed once room is freed', async () => {
    for (const name of ['big-a', 'big-b']) await core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: podSpec('1200m') } })
    await expect.poll(async () => (await read('big-b')).status?.phase, { timeout: 20_000 }).toBe('Running')
    expect(new Set([(await read('big-a')).spec?.nodeName, (await read('big-b')).spec?.nodeName])).toEqual(new Set([nodes[0]!.name, nodes[1]!.name]))

    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'big-c' }, spec: podSpec('1200m') } })
    await expect
      .poll(async () => (await read('big-c')).status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason, { timeout: 20_000 })
      .toBe('Unschedulable')
    const waiting = await read('big-c')
    expect(waiting.status?.phase).toBe('Pending')
    expect(waiting.spec?.nodeName).toBeUndefined()
    expect(waiting.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message).toBe(
      '0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {workload: database}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    )
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=big-c' })
    expect(events.items.map((e) => e.reason)).toContain('FailedScheduling')
    // verify's pods check: a warning while it may still be placed, a failure once that is unlikely
    expect(podProblem(waiting, Date.now())).toMatchObject({ severity: 'warn', problem: expect.stringContaining('Unschedulable') })
    expect(podProblem(waiting, Date.now() + 60_000)).toMatchObject({ severity: 'fail', problem: expect.stringContaining('Insufficient cpu') })

    await core.deleteNamespacedPod({ namespace, name: 'big-a' })
    await expect.poll(async () => (await read('big-c')).status?.phase, { timeout: 20_000 }).toBe('Running')
    await core.deleteNamespacedPod({ namespace, name: 'big-b' })
    await core.deleteNamespacedPod({ namespace, name: 'big-c' })
  })

  it('a rollout whose new pods cannot be scheduled fails fast, naming the pod and the reason', async () => {
    const labels = { app: 'greedy' }
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'greedy' },
        spec: { replicas: 3, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec('1500m') } },
      },
    })
    const t0 = Date.now()
    const err = await waitForRollouts(new KubeClients({ kubeconfig: kube!.kubeconfigPath }), {
      namespace,
      deployments: ['greedy'],
      timeoutMs: 60_000,
      unschedulableGraceMs: 2_000,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RolloutFailedError)
    expect((err as Error).message).toMatch(
      /rollout of greedy in sched-\w+ cannot be scheduled:\npod sched-\w+\/greedy-[\w-]+: Unschedulable .*Insufficient cpu/,
    )
    expect(Date.now() - t0).toBeLessThan(20_000)
  })
})
