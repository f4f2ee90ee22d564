import { createHash, randomBytes } from 'node:crypto'
import {
  ApiException,
  CoreV1Api,
  StorageV1Api,
  type KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Pod,
} from '@kubernetes/client-node'
import type { SimNodeSpec } from './eks-nodes.js'
import { place, quantity, usage, type SchedNode } from './scheduling.js'
import { startKubeletLogServer, type ContainerLogSource } from './kubelet-logs.js'

/**
 * Stands in for a kubelet (there is none: no container runtime here). Watches pods through an
 * informer and drives them the way a kubelet and scheduler would, so the real controllers
 * (Deployment, ReplicaSet, Job, EndpointSlice, namespace) react to real status changes:
 *
 *   - registers Ready Nodes: by default one roomy `sim-node-1` (the test harness shares it);
 *     the sandbox passes the environment's EKS node groups (src/sandbox/components/eks-nodes.ts:
 *     instance types, allocatable CPU/memory/pods as the EKS AMI reports them, the database
 *     group's taint)
 *   - schedules every unscheduled pod like kube-scheduler's filters (src/sandbox/components/scheduling.ts:
 *     requests against allocatable, taints, node selectors) and binds it (Binding subresource);
 *     a pod that fits nowhere stays Pending with PodScheduled=False/Unschedulable and a
 *     FailedScheduling event carrying kube-scheduler's message, and is retried when pods go away
 *   - patches pod status (status subresource) to what the image asks for:
 *       tag contains `missing`  -> Pending, waiting ImagePullBackOff
 *       tag contains `crash`    -> Running, not ready, waiting CrashLoopBackOff, restartCount +1
 *                                  every crashRestartIntervalMs, lastState terminated exit 1
 *       Job pod, image `fail`   -> Failed, terminated exit 1 (Job pods with `crash` too)
 *       other Job pods          -> Succeeded, terminated exit 0
 *       anything else           -> Running and Ready, with a pod IP (so EndpointSlices fill)
 *   - deletes pods that have a deletionTimestamp with gracePeriodSeconds 0 (a kubelet's part of
 *     graceful deletion), so ReplicaSet scale-down and namespace deletion complete
 *   - records Events (Scheduled, Pulled/Started, BackOff, Failed) like a kubelet would
 *
 *   - serves the kubelet's container-log endpoint (kubelet-logs.ts), which the API server
 *     proxies `pods/log` to: the output a `containerLogs` source gives (the sandbox: the
 *     stand-in process's real output), plus what the simulated runtime did (a crash's panic)
 *
 * Not simulated: exec, port-forward, probes, actual resource usage, preemption, OnFailure
 * restarts of Job containers.
 */

export type SimulatedOutcome = 'running' | 'crash' | 'image-pull-backoff' | 'succeeded' | 'failed'

export interface NodeSimulatorOptions {
  kubeConfig: KubeConfig
  /** The single default node's name (when `nodes` is not given). */
  nodeName?: string
  /** The nodes to register (default: one node with 32 CPUs and 128Gi, room for any test). */
  nodes?: SimNodeSpec[]
  /**
   * Pods whose spec.schedulerName is this are the ones it schedules (default `default-scheduler`,
   * what the API server fills in): a second simulator with its own nodes can share a cluster.
   */
  schedulerName?: string
  /**
   * Honour PersistentVolumeClaims like kube-scheduler's VolumeBinding plugin (the sandbox): a pod
   * whose claim is unbound and not WaitForFirstConsumer stays Unschedulable; for a
   * WaitForFirstConsumer claim the chosen node is written to the claim
   * (volume.kubernetes.io/selected-node) and the pod is bound once the claim is. Default off: the
   * test harness has no provisioner.
   */
  volumeBinding?: boolean
  /** How often a crash-looping container's restartCount goes up (default 1000 ms). */
  crashRestartIntervalMs?: number
  /** Parallel API calls (default 16). */
  concurrency?: number
  /** Record kubelet-like Events (default true). */
  events?: boolean
  /** A container's real output (the sandbox's stand-in processes); the simulator adds what its runtime did. */
  containerLogs?: ContainerLogSource
}

export interface NodeSimulator {
  /** The first node's name. */
  nodeName: string
  nodeNames: string[]
  /** Counters, and the last few API errors (retried automatically). */
  stats(): { bound: number; unschedulable: number; statusPatched: number; deleted: number; restarts: number; errors: string[] }
  stop(): Promise<void>
}

// In its own module so the stand-ins can read tags without loading the Kubernetes client.
export { imageTag } from '../image-tag.js'
import { imageTag } from '../image-tag.js'

const isJobPod = (pod: V1Pod) => (pod.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Job')

/** What a container of `pod` running `image` does on this simulated node. */
export function containerOutcome(pod: V1Pod, image: string): SimulatedOutcome {
  const tag = imageTag(image)
  if (tag.includes('missing')) return 'image-pull-backoff'
  if (isJobPod(pod)) return image.includes('fail') || tag.includes('crash') ? 'failed' : 'succeeded'
  if (tag.includes('crash')) return 'crash'
  return 'running'
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const apiCode = (err: unknown) => (err instanceof ApiException ? err.code : undefined)
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

export async function startNodeSimulator(opts: NodeSimulatorOptions): Promise<NodeSimulator> {
  const specs = opts.nodes?.length ? opts.nodes : [roomyNode(opts.nodeName ?? 'sim-node-1')]
  const nodes: (SchedNode & { ip: string })[] = specs.map((n) => ({
    name: n.name,
    // every simulated node is this machine: the API server reaches its kubelet endpoint (logs)
    // at the node's InternalIP
    ip: '127.0.0.1',
    labels: n.labels,
    taints: n.taints,
    allocatable: {
      cpu: quantity(n.resources.allocatable.cpu),
      memory: quantity(n.resources.allocatable.memory),
      pods: quantity(n.resources.allocatable.pods),
    },
  }))
  const nodeIPs = new Map(nodes.map((n) => [n.name, n.ip]))
  const schedulerName = opts.schedulerName ?? 'default-scheduler'
  const storage = opts.kubeConfig.makeApiClient(StorageV1Api)
  const preemption = `preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`

  /** VolumeBinding: 'ok', the claims still waiting for their first consumer, or why no node can take the pod. */
  const volumes = async (pod: V1Pod): Promise<{ unschedulable?: string; delayed: string[] }> => {
    const ns = pod.metadata?.namespace ?? ''
    const claims = (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []))
    const delayed: string[] = []
    for (const claim of claims) {
      let pvc
      try {
        pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns })
      } catch (err) {
        if (apiCode(err) === 404)
          return { unschedulable: `0/${nodes.length} nodes are available: persistentvolumeclaim "${claim}" not found. ${preemption}`, delayed }
        throw err
      }
      if (pvc.status?.phase === 'Bound') continue
      const className = pvc.spec?.storageClassName
      const sc = className ? await storage.readStorageClass({ name: className }).catch(() => undefined) : undefined
      if (sc?.volumeBindingMode === 'WaitForFirstConsumer') delayed.push(claim)
      else return { unschedulable: `0/${nodes.length} nodes are available: pod has unbound immediate PersistentVolumeClaims. ${preemption}`, delayed }
    }
    return { delayed }
  }
  const core = opts.kubeConfig.makeApiClient(CoreV1Api)
  const concurrency = opts.concurrency ?? 16
  const crashEvery = opts.crashRestartIntervalMs ?? 1000
  const counters = { bound: 0, unschedulable: 0, statusPatched: 0, deleted: 0, restarts: 0 }
  const errors: string[] = []
  let stopped = false

  // Set once the informer runs; a log request before that finds no pod (404), as for an unknown pod.
  let podLookup: (namespace: string, name: string) => V1Pod | undefined = () => undefined
  const kubelet = await startKubeletLogServer((namespace, podName, container, previous) => {
    const pod = podLookup(namespace, podName)
    const c = pod?.spec?.containers.find((x) => x.name === container)
    if (!pod || !c) return undefined
    return simulatedLog(pod, c, previous, opts.containerLogs?.(namespace, podName, container, previous))
  })
  for (const [i, n] of specs.entries()) await registerNode(core, n, nodes[i]!.ip, kubelet.port)
  // pods bound by this process whose binding the informer has not shown yet (kube-scheduler's
  // "assumed" pods): two pods scheduled back to back must not both take the last free CPU
  const assumed = new Map<string, { uid: string; node: string }>()
  // pods waiting for room: looked at again whenever a pod goes away or finishes
  const waiting = new Set<string>()

  // --- per-pod bookkeeping (keyed by uid) ---
  let nextIp = 2
  const podIPs = new Map<string, string>()
  const allocIp = (uid: string) => {
    let ip = podIPs.get(uid)
    if (!ip) {
      ip = `10.244.${Math.floor(nextIp / 254) % 256}.${(nextIp % 254) + 1}`
      nextIp++
      podIPs.set(uid, ip)
    }
    return ip
  }
  const crashTimers = new Map<string, NodeJS.Timeout>()
  const crashCounts = new Map<string, number>()
  const deleteRequested = new Set<string>()
  const startedAt = new Map<string, string>()
  const retries = new Map<string, number>()

  const informer = makeInformer(opts.kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces())

  // --- a small work queue (client-go semantics): a key is processed by one worker at a time;
  // events arriving meanwhile mark it dirty and it is processed again with the latest object.
  const queue: string[] = []
  const dirty = new Set<string>()
  const processing = new Set<string>()
  let active = 0
  let idle: (() => void) | undefined
  const add = (key: string) => {
    if (stopped || dirty.has(key)) return
    dirty.add(key)
    if (!processing.has(key)) queue.push(key)
    pump()
  }
  const pump = () => {
    while (!stopped && active < concurrency && queue.length > 0) {
      const key = queue.shift() as string
      dirty.delete(key)
      processing.add(key)
      active++
      handle(key)
        .then(() => retries.delete(key))
        .catch((err: unknown) => {
          const msg = `${key}: ${err instanceof Error ? err.message : String(err)}`
          errors.push(msg)
          if (errors.length > 20) errors.shift()
          // back off and retry: the informer will not send a new event for a failed call
          const n = (retries.get(key) ?? 0) + 1
          retries.set(key, n)
          if (n <= 8) setTimeout(() => add(key), Math.min(100 * 2 ** n, 5000)).unref()
        })
        .finally(() => {
          active--
          processing.delete(key)
          if (dirty.has(key)) queue.push(key)
          if (active === 0 && queue.length === 0) idle?.()
          pump()
        })
    }
  }

  const keyOf = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`
  const event = async (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet') => {
    if (opts.events === false) return
    const ns = pod.metadata?.namespace ?? 'default'
    const ts = new Date()
    await core
      .createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { name: `${pod.metadata?.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
          involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: ns, name: pod.metadata?.name, uid: pod.metadata?.uid },
          reason,
          message,
          type,
          source: { component, host: component === 'kubelet' ? pod.spec?.nodeName : undefined },
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
        },
      })
      .catch(() => {}) // events are best effort, as in Kubernetes (namespace may be terminating)
  }

  const handle = async (key: string) => {
    const [namespace = '', name = ''] = key.split('/')
    const pod = informer.get(name, namespace)
    if (!pod?.metadata?.uid) return
    const uid = pod.metadata.uid

    const onOurNode = nodeIPs.has(pod.spec?.nodeName ?? '')
    if (pod.metadata.deletionTimestamp) {
      if (deleteRequested.has(uid) || !onOurNode) return
      stopCrashLoop(uid)
      try {
        await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 })
        counters.deleted++
      } catch (err) {
        if (apiCode(err) !== 404) throw err
      }
      deleteRequested.add(uid)
      return
    }
    if (!pod.spec?.nodeName) {
      if ((pod.spec?.schedulerName ?? 'default-scheduler') !== schedulerName) return
      if (assumed.get(key)?.uid === uid) return // bound a moment ago; the informer catches up
      const pods = informer.list().map((p) => {
        const a = p.spec?.nodeName ? undefined : assumed.get(keyOf(p))
        return a?.uid === p.metadata?.uid ? { ...p, spec: { ...p.spec!, nodeName: a!.node } } : p
      })
      // decided and reserved synchronously: no other pod can take the room in between
      const claims = opts.volumeBinding ? await volumes(pod) : { delayed: [] }
      const where = claims.unschedulable ? { unschedulable: claims.unschedulable } : place(pod, nodes, usage(pods))
      if (!('unschedulable' in where) && claims.delayed.length) {
        // the scheduler picks the node, the provisioner makes the volume there; the pod is bound after
        waiting.add(key)
        for (const claim of claims.delayed)
          await core.patchNamespacedPersistentVolumeClaim(
            { name: claim, namespace, body: { metadata: { annotations: { 'volume.kubernetes.io/selected-node': where.node } } } },
            mergePatch,
          )
        return
      }
      if ('unschedulable' in where) {
        waiting.add(key)
        const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')
        if (cond?.status === 'False' && cond.reason === 'Unschedulable' && cond.message === where.unschedulable) return
        await core.patchNamespacedPodStatus(
          {
            name,
            namespace,
            body: {
              status: {
                phase: 'Pending',
                conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: where.unschedulable, lastTransitionTime: now() }],
              },
            },
          },
          mergePatch,
        )
        counters.unschedulable++
        void event(pod, 'Warning', 'FailedScheduling', where.unschedulable, 'default-scheduler')
        return
      }
      waiting.delete(key)
      assumed.set(key, { uid, node: where.node })
      try {
        await core.createNamespacedPodBinding({
          name,
          namespace,
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: where.node } },
        })
        counters.bound++
        void event(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${where.node}`, 'default-scheduler')
      } catch (err) {
        assumed.delete(key)
        if (apiCode(err) !== 409) throw err // 409: already bound, the next event shows it
      }
      return
    }
    assumed.delete(key)
    if (!nodeIPs.has(pod.spec.nodeName)) return
    if ((pod.status?.containerStatuses ?? []).length > 0) return // already simulated

    await core.patchNamespacedPodStatus({ name, namespace, body: { status: podStatus(pod, 0) } }, mergePatch)
    counters.statusPatched++
    for (const c of pod.spec.containers) {
      const outcome = containerOutcome(pod, c.image ?? '')
      if (outcome === 'image-pull-backoff') {
        void event(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": not found (simulated)`)
      } else if (outcome === 'crash') {
        void event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${name}`)
      } else {
        void event(pod, 'Normal', 'Started', `Started container ${c.name}`)
      }
    }
    if (pod.spec.containers.some((c) => containerOutcome(pod, c.image ?? '') === 'crash')) startCrashLoop(pod)
  }

  /** Full pod status for the current simulated moment (merge patch replaces lists whole). */
  const podStatus = (pod: V1Pod, restarts: number) => {
    const uid = pod.metadata?.uid ?? ''
    const t = now()
    if (!startedAt.has(uid)) startedAt.set(uid, t)
    const start = startedAt.get(uid) as string
    const ip = allocIp(uid)
    const containers = pod.spec?.containers ?? []
    const outcomes = containers.map((c) => containerOutcome(pod, c.image ?? ''))
    const containerID = (c: V1Container) => `containerd://${sha(`${uid}/${c.name}/${restarts}`).slice(0, 64)}`
    const imageID = (c: V1Container) => `${(c.image ?? '').split(/[:@]/)[0]}@sha256:${sha(c.image ?? '')}`

    const containerStatuses = containers.map((c, i) => {
      const base = { name: c.name, image: c.image, imageID: imageID(c), containerID: containerID(c) }
      switch (outcomes[i]) {
        case 'image-pull-backoff':
          return {
            name: c.name,
            image: c.image,
            imageID: '',
            ready: false,
            started: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } },
          }
        case 'crash':
          return {
            ...base,
            ready: false,
            started: false,
            restartCount: restarts,
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: `back-off restarting failed container=${c.name} pod=${pod.metadata?.name}_${pod.metadata?.namespace}(${uid})`,
              },
            },
            lastState: {
              terminated: { exitCode: 1, reason: 'Error', message: 'panic: simulated crash', startedAt: start, finishedAt: t, containerID: base.containerID },
            },
          }
        case 'succeeded':
          return {
            ...base,
            ready: false,
            started: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: start, finishedAt: t, containerID: base.containerID } },
          }
        case 'failed':
          return {
            ...base,
            ready: false,
            started: false,
            restartCount: 0,
            state: {
              terminated: { exitCode: 1, reason: 'Error', message: 'simulated failure', startedAt: start, finishedAt: t, containerID: base.containerID },
            },
          }
        default:
          return { ...base, ready: true, started: true, restartCount: 0, state: { running: { startedAt: start } } }
      }
    })
    const initContainerStatuses = (pod.spec?.initContainers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: imageID(c),
      containerID: containerID(c),
      ready: true,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: start, finishedAt: start, containerID: containerID(c) } },
    }))

    let phase: string
    if (outcomes.every((o) => o === 'succeeded')) phase = 'Succeeded'
    else if (outcomes.includes('failed') && !outcomes.includes('image-pull-backoff')) phase = 'Failed'
    else if (outcomes.includes('image-pull-backoff')) phase = 'Pending'
    else phase = 'Running'
    const allReady = outcomes.every((o) => o === 'running')
    const notReady = containers.filter((_, i) => outcomes[i] !== 'running').map((c) => c.name)
    const terminal = phase === 'Succeeded' || phase === 'Failed'
    const readyCond = (type: string) =>
      allReady
        ? { type, status: 'True', lastTransitionTime: start }
        : {
            type,
            status: 'False',
            lastTransitionTime: start,
            reason: terminal ? 'PodCompleted' : 'ContainersNotReady',
            ...(terminal ? {} : { message: `containers with unready status: [${notReady.join(' ')}]` }),
          }
    const hostIP = nodeIPs.get(pod.spec?.nodeName ?? '') ?? '10.0.1.1'
    return {
      phase,
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: start,
      conditions: [
        { type: 'PodReadyToStartContainers', status: terminal ? 'False' : 'True', lastTransitionTime: start },
        { type: 'Initialized', status: 'True', lastTransitionTime: start },
        readyCond('Ready'),
        readyCond('ContainersReady'),
        { type: 'PodScheduled', status: 'True', lastTransitionTime: start },
      ],
      containerStatuses,
      ...(initContainerStatuses.length ? { initContainerStatuses } : {}),
    }
  }

  // A crash loop is a timer, not a sleep: each tick is one more "restart" written to the API.
  const startCrashLoop = (pod: V1Pod) => {
    const uid = pod.metadata?.uid ?? ''
    if (crashTimers.has(uid)) return
    const { name = '', namespace = '' } = pod.metadata ?? {}
    const timer = setInterval(() => {
      const current = informer.get(name, namespace)
      if (stopped || !current || current.metadata?.uid !== uid || current.metadata.deletionTimestamp) {
        stopCrashLoop(uid)
        return
      }
      const n = (crashCounts.get(uid) ?? 0) + 1
      crashCounts.set(uid, n)
      core
        .patchNamespacedPodStatus({ name, namespace, body: { status: podStatus(current, n) } }, mergePatch)
        .then(() => counters.restarts++)
        .catch((err: unknown) => {
          if (apiCode(err) === 404) stopCrashLoop(uid)
        })
    }, crashEvery)
    timer.unref()
    crashTimers.set(uid, timer)
  }
  const stopCrashLoop = (uid: string) => {
    clearInterval(crashTimers.get(uid))
    crashTimers.delete(uid)
  }

  const forget = (pod: V1Pod) => {
    const uid = pod.metadata?.uid ?? ''
    stopCrashLoop(uid)
    crashCounts.delete(uid)
    podIPs.delete(uid)
    startedAt.delete(uid)
    deleteRequested.delete(uid)
  }

  // room freed (a pod deleted, finished or terminating): pods waiting for it are scheduled again
  const retryWaiting = (): void => [...waiting].forEach(add)
  const frees = (pod: V1Pod): boolean => Boolean(pod.metadata?.deletionTimestamp) || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
  // claims bind without a pod event: pods waiting on volumes are looked at again every second
  const volumeRetry = opts.volumeBinding ? setInterval(() => waiting.size && retryWaiting(), 1000) : undefined
  volumeRetry?.unref()
  informer.on('add', (pod) => add(keyOf(pod)))
  informer.on('update', (pod) => {
    add(keyOf(pod))
    if (waiting.size && frees(pod)) retryWaiting()
  })
  informer.on('delete', (pod) => {
    forget(pod)
    assumed.delete(keyOf(pod))
    waiting.delete(keyOf(pod))
    if (waiting.size) retryWaiting()
  })
  // The informer stops on a watch error (e.g. apiserver restart): restart it unless stopping.
  informer.on('error', (err: unknown) => {
    if (stopped) return
    errors.push(`informer: ${err instanceof Error ? err.message : String(err)}`)
    setTimeout(() => {
      if (!stopped) informer.start().catch(() => {})
    }, 500).unref()
  })
  await informer.start()
  podLookup = (namespace, name) => informer.get(name, namespace)

  return {
    nodeName: nodes[0]!.name,
    nodeNames: nodes.map((n) => n.name),
    stats: () => ({ ...counters, errors: [...errors] }),
    async stop() {
      stopped = true
      clearInterval(volumeRetry)
      for (const uid of [...crashTimers.keys()]) stopCrashLoop(uid)
      await informer.stop()
      await kubelet.stop()
      if (active > 0) await new Promise<void>((resolve) => (idle = resolve))
    },
  }
}

/**
 * What a container's log holds on this node: its real output when there is one, then what the
 * simulated runtime did to it (a crash ends with a panic and exit status 1). A container that
 * never started has no log; a previous run exists only after a restart.
 */
function simulatedLog(pod: V1Pod, c: V1Container, previous: boolean, real: string | undefined): string | undefined {
  const outcome = containerOutcome(pod, c.image ?? '')
  const restarts = pod.status?.containerStatuses?.find((s) => s.name === c.name)?.restartCount ?? 0
  const started = real ?? `${now()} starting ${c.name} (image ${c.image})\n`
  switch (outcome) {
    case 'image-pull-backoff':
      return undefined
    case 'crash':
      if (previous && restarts === 0) return undefined
      return `${started}${now()} panic: simulated crash: image tag "${imageTag(c.image ?? '')}" crashes on start\n${now()} exit status 1\n`
    case 'failed':
      return previous ? undefined : `${started}${now()} simulated failure\n${now()} exit status 1\n`
    default:
      return previous ? undefined : started
  }
}

/** The test harness's node: room for every test's pods at once, no taints. */
function roomyNode(name: string): SimNodeSpec {
  const resources = { cpu: '32', memory: '128Gi', pods: '250' }
  return {
    name,
    instanceType: 'simulated',
    labels: { 'topology.kubernetes.io/region': 'us-east-1', 'topology.kubernetes.io/zone': 'us-east-1a', 'node.kubernetes.io/instance-type': 'simulated' },
    taints: [],
    resources: { capacity: resources, allocatable: resources },
  }
}

/** Creates (or takes over) a simulated node and reports it Ready. */
async function registerNode(core: CoreV1Api, spec: SimNodeSpec, ip: string, kubeletPort: number): Promise<void> {
  const name = spec.name
  const labels = { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...spec.labels }
  const taints = spec.taints.length ? spec.taints : undefined
  try {
    await core.createNode({ body: { metadata: { name, labels }, spec: { taints } } })
  } catch (err) {
    if (apiCode(err) !== 409) throw err
    await core.patchNode({ name, body: { metadata: { labels }, spec: { taints: taints ?? null } } }, mergePatch)
  }
  const t = now()
  const storage = { 'ephemeral-storage': '200Gi' }
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  })
  await core.patchNodeStatus(
    {
      name,
      body: {
        status: {
          capacity: { ...spec.resources.capacity, ...storage },
          allocatable: { ...spec.resources.allocatable, ...storage },
          conditions: [
            cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
            cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
            cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
            cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status (simulated)'),
          ],
          // No Hostname address: the API server prefers it and would try to resolve the node's name.
          addresses: [{ type: 'InternalIP', address: ip }],
          daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
          nodeInfo: {
            machineID: sha(name).slice(0, 32),
            systemUUID: sha(`uuid-${name}`).slice(0, 32),
            bootID: sha(`boot-${name}`).slice(0, 32),
            kernelVersion: 'simulated',
            osImage: 'autolytiq node simulator',
            containerRuntimeVersion: 'simulated://1.0.0',
            kubeletVersion: 'v1.34.4',
            kubeProxyVersion: '',
            operatingSystem: 'linux',
            architecture: 'amd64',
          },
        },
      },
    },
    mergePatch,
  )
}
