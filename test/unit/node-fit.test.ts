/**
 * #16 item 6: does each environment's workload fit on the nodes its Terraform variables give it?
 * The manifests are the real `kubectl kustomize` builds; the nodes are those of
 * terraform/modules/eks sized from autolytiq.yaml, with the allocatable CPU and memory of the EKS
 * AMI (src/sandbox/components/eks-nodes.ts); placement is the node simulator's scheduler filters.
 */
import { execa } from 'execa'
import { join } from 'node:path'
import type { V1Pod } from '@kubernetes/client-node'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/environments.js'
import { kubectlBinary } from '../../src/k8s/kustomize.js'
import { parseManifests, type KubeObject } from '../../src/k8s/objects.js'
import { eksNodeResources, eksNodesFor, reservedCpuMillis } from '../../src/sandbox/components/eks-nodes.js'
import { place, quantity, usage, type SchedNode } from '../../src/sandbox/components/scheduling.js'
import { REPO } from '../helpers/cli.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any
const config = loadConfig(REPO)
const build = async (dir: string): Promise<KubeObject[]> => parseManifests((await execa(kubectlBinary(), ['kustomize', join(REPO, dir)])).stdout, dir)

const pod = (name: string, cpu: string, memory: string, spec: Any = {}): V1Pod =>
  ({ metadata: { name }, spec: { ...spec, containers: [{ name, resources: { requests: { cpu, memory } } }] } }) as V1Pod

/**
 * What runs on EKS besides our manifests, with the requests of the EKS add-ons' defaults:
 * per node the aws-node (VPC CNI, 25m), kube-proxy (100m) and EBS CSI node (3 x 10m/40Mi)
 * DaemonSets; CoreDNS x2 (100m/70Mi); metrics-server (100m/200Mi, helm.metrics-server); the
 * migration Job (k8s/jobs/db-migration.yaml, 100m/128Mi).
 */
function clusterPods(nodes: SchedNode[]): { perNode: V1Pod[]; pods: V1Pod[] } {
  return {
    perNode: nodes.flatMap((n) => [
      { ...pod(`aws-node-${n.name}`, '25m', '0'), spec: { ...pod('', '25m', '0').spec, nodeName: n.name } },
      { ...pod(`kube-proxy-${n.name}`, '100m', '0'), spec: { ...pod('', '100m', '0').spec, nodeName: n.name } },
      { ...pod(`ebs-csi-node-${n.name}`, '30m', '120Mi'), spec: { ...pod('', '30m', '120Mi').spec, nodeName: n.name } },
    ]) as V1Pod[],
    pods: [pod('coredns-1', '100m', '70Mi'), pod('coredns-2', '100m', '70Mi'), pod('metrics-server', '100m', '200Mi'), pod('db-migration', '100m', '128Mi')],
  }
}

/** Every pod of the environment at the HPA minimums, then one surge pod per Deployment (maxSurge 25% of a few replicas). */
async function schedule(envName: string): Promise<{ unschedulable: string[]; nodes: SchedNode[] }> {
  const env = config.environments[envName]!
  const nodes: SchedNode[] = eksNodesFor(env.region, env.terraformVars).map((n) => ({
    name: n.name,
    labels: n.labels,
    taints: n.taints,
    allocatable: { cpu: quantity(n.resources.allocatable.cpu), memory: quantity(n.resources.allocatable.memory), pods: quantity(n.resources.allocatable.pods) },
  }))
  const objects = [...(await build(env.kustomizeOverlay)), ...(await build('k8s/monitoring'))]
  const hpaMin = new Map(
    objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((h: Any) => [h.spec.scaleTargetRef.name, h.spec.minReplicas as number]),
  )
  const deployments = objects.filter((o) => o.kind === 'Deployment') as Any[]
  const replicas = (d: Any): number => hpaMin.get(d.metadata.name) ?? d.spec.replicas ?? 1
  const ours = deployments.flatMap((d) =>
    Array.from({ length: replicas(d) }, (_, i) => ({ metadata: { name: `${d.metadata.name}-${i}` }, spec: d.spec.template.spec }) as V1Pod),
  )
  const surge = deployments.map((d) => ({ metadata: { name: `${d.metadata.name}-surge` }, spec: d.spec.template.spec }) as V1Pod)
  const { perNode, pods } = clusterPods(nodes)
  const placed: V1Pod[] = [...perNode]
  const unschedulable: string[] = []
  for (const p of [...pods, ...ours, ...surge]) {
    const where = place(p, nodes, usage(placed))
    if ('node' in where) placed.push({ ...p, spec: { ...p.spec!, nodeName: where.node } })
    else unschedulable.push(`${p.metadata!.name}: ${where.unschedulable}`)
  }
  return { unschedulable, nodes }
}

describe('EKS node sizes', () => {
  it('a t3.large offers 1930m CPU and about 7 GiB to pods (EKS AMI reservations)', () => {
    expect(reservedCpuMillis(2)).toBe(70)
    expect(reservedCpuMillis(4)).toBe(80)
    const r = eksNodeResources('t3.large')
    expect(r.allocatable.cpu).toBe('1930m')
    expect(quantity(r.allocatable.memory) / 1024 ** 3).toBeGreaterThan(6.8)
    expect(quantity(r.allocatable.memory) / 1024 ** 3).toBeLessThan(7.2)
    expect(r.allocatable.pods).toBe('35')
  })

  it('the database node group is tainted, as terraform/modules/eks makes it', () => {
    const db = eksNodesFor('us-east-1', config.environments.staging!.terraformVars).filter((n) => n.labels.workload === 'database')
    expect(db.length).toBeGreaterThan(0)
    for (const n of db) expect(n.taints).toEqual([{ key: 'workload', value: 'database', effect: 'NoSchedule' }])
  })
})

describe.each(['sandbox', 'staging', 'prod'])('%s: the platform fits its node groups', (envName) => {
  it('every pod at the HPA minimums, plus a rollout surge, is schedulable', async () => {
    const { unschedulable } = await schedule(envName)
    expect(unschedulable).toEqual([])
  })
})

it('monitoring uses the database node group (nothing in the cluster is a database: Aurora and ElastiCache are managed)', async () => {
  const objects = await build('k8s/monitoring')
  for (const d of objects.filter((o) => o.kind === 'Deployment') as Any[]) {
    const nodes = eksNodesFor('us-east-1', { eks_node_desired_size: 1, eks_database_node_size: { desired: 1 } })
    const sched = nodes.map((n) => ({ name: n.name, labels: n.labels, taints: n.taints, allocatable: { cpu: 2, memory: 16 * 1024 ** 3, pods: 30 } }))
    expect(place({ spec: d.spec.template.spec } as V1Pod, sched, new Map()), d.metadata.name).toEqual({ node: 'sim-database-1' })
  }
})
