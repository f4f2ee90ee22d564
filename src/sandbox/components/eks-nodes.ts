import type { V1Taint } from '@kubernetes/client-node'

/**
 * The nodes an environment's EKS managed node groups give it, with the allocatable CPU and memory
 * the kubelet of the EKS AMI reports, so the sandbox's node simulator can refuse what would not
 * fit on EKS instead of offering 32 CPUs.
 *
 * The EKS AMI reserves (its bootstrap's kube-reserved, plus the kubelet's default eviction
 * threshold):
 *   cpu    6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest
 *   memory 255 MiB + 11 MiB per pod the node may run (max pods: ENIs x (IPv4 per ENI - 1) + 2)
 *          + 100 MiB eviction threshold (memory.available<100Mi)
 * The kernel keeps part of the instance's memory, so the kubelet's capacity is below the
 * nominal size: about 96% of it (MemTotal of an 8 GiB t3.large is ~7.7 GiB). A t3.large thus
 * offers 1930m CPU and ~6.95 GiB to pods.
 */
export interface InstanceType {
  vcpu: number
  memoryGiB: number
  /** ENIs x (IPv4 addresses per ENI - 1) + 2: the VPC CNI's limit without prefix delegation. */
  maxPods: number
}

export const INSTANCE_TYPES: Record<string, InstanceType> = {
  't3.medium': { vcpu: 2, memoryGiB: 4, maxPods: 17 },
  't3.large': { vcpu: 2, memoryGiB: 8, maxPods: 35 },
  't3.xlarge': { vcpu: 4, memoryGiB: 16, maxPods: 58 },
  't3.2xlarge': { vcpu: 8, memoryGiB: 32, maxPods: 58 },
  'm5.large': { vcpu: 2, memoryGiB: 8, maxPods: 29 },
  'm5.xlarge': { vcpu: 4, memoryGiB: 16, maxPods: 58 },
  'r5.large': { vcpu: 2, memoryGiB: 16, maxPods: 29 },
  'r5.xlarge': { vcpu: 4, memoryGiB: 32, maxPods: 58 },
  'r5.2xlarge': { vcpu: 8, memoryGiB: 64, maxPods: 58 },
}

const KERNEL_SHARE = 0.96
const EVICTION_MIB = 100

/** kube-reserved CPU of the EKS AMI, in millicores. */
export function reservedCpuMillis(vcpu: number): number {
  const steps: [number, number][] = [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Infinity, 0.0025],
  ]
  let left = vcpu
  let reserved = 0
  for (const [cores, share] of steps) {
    const n = Math.min(left, cores)
    reserved += n * 1000 * share
    left -= n
    if (left <= 0) break
  }
  return Math.round(reserved)
}

export interface NodeResources {
  capacity: { cpu: string; memory: string; pods: string }
  allocatable: { cpu: string; memory: string; pods: string }
}

/** Capacity and allocatable of one node of `type` as the EKS AMI's kubelet reports them. */
export function eksNodeResources(type: string): NodeResources {
  const t = INSTANCE_TYPES[type]
  if (!t) throw new Error(`unknown instance type ${type}: add it to INSTANCE_TYPES in src/sandbox/components/eks-nodes.ts`)
  const capacityMiB = Math.floor(t.memoryGiB * 1024 * KERNEL_SHARE)
  const reservedMiB = 255 + 11 * t.maxPods + EVICTION_MIB
  return {
    capacity: { cpu: String(t.vcpu), memory: `${capacityMiB}Mi`, pods: String(t.maxPods) },
    allocatable: { cpu: `${t.vcpu * 1000 - reservedCpuMillis(t.vcpu)}m`, memory: `${capacityMiB - reservedMiB}Mi`, pods: String(t.maxPods) },
  }
}

export interface SimNodeSpec {
  name: string
  instanceType: string
  labels: Record<string, string>
  taints: V1Taint[]
  resources: NodeResources
}

/** The terraform variables the node groups are sized from (autolytiq.yaml terraformVars). */
interface NodeGroupVars {
  eks_node_instance_types?: { general?: string[]; database?: string[] }
  eks_node_desired_size?: number
  eks_database_node_size?: { desired?: number }
}

/**
 * The nodes of terraform/modules/eks: `general` (labels workload=general) and `database`
 * (workload=database, tainted workload=database:NoSchedule), each at its desired size, of the
 * group's first instance type (a managed node group launches its first type while it is
 * available). Zones alternate over three AZs, as the node groups span three private subnets.
 */
export function eksNodesFor(region: string, vars: Record<string, unknown> = {}): SimNodeSpec[] {
  const v = vars as NodeGroupVars
  const groups = [
    { group: 'general', type: v.eks_node_instance_types?.general?.[0] ?? 't3.large', count: v.eks_node_desired_size ?? 2, taints: [] as V1Taint[] },
    {
      group: 'database',
      type: v.eks_node_instance_types?.database?.[0] ?? 'r5.large',
      count: v.eks_database_node_size?.desired ?? 2,
      taints: [{ key: 'workload', value: 'database', effect: 'NoSchedule' }],
    },
  ]
  const zones = ['a', 'b', 'c']
  return groups.flatMap((g) =>
    Array.from({ length: g.count }, (_, i) => ({
      name: `sim-${g.group}-${i + 1}`,
      instanceType: g.type,
      labels: {
        workload: g.group,
        'eks.amazonaws.com/nodegroup': g.group,
        'node.kubernetes.io/instance-type': g.type,
        'topology.kubernetes.io/region': region,
        'topology.kubernetes.io/zone': `${region}${zones[i % zones.length]}`,
      },
      taints: g.taints,
      resources: eksNodeResources(g.type),
    })),
  )
}
