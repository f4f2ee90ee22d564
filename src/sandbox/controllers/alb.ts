import { createHash } from 'node:crypto'
import { AppsV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Ingress } from '@kubernetes/client-node'
import { startInformer } from '../informer.js'
import { controllerDeployed } from './gate.js'
import { startReconciler } from './reconciler.js'

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

/** An ALB DNS name of the real shape (k8s-<group>-<hash>-<n>.<region>.elb.amazonaws.com). */
export function albHostname(group: string, region: string): string {
  const hash = createHash('sha256').update(group).digest('hex')
  return `k8s-${group.slice(0, 16)}-${hash.slice(0, 10)}-${parseInt(hash.slice(10, 18), 16) % 1_000_000_000}.${region}.elb.amazonaws.com`
}

const isAlbIngress = (i: V1Ingress): boolean => i.spec?.ingressClassName === 'alb' || i.metadata?.annotations?.['kubernetes.io/ingress.class'] === 'alb'

/**
 * Plays the AWS Load Balancer Controller's visible part: every `alb` Ingress gets
 * status.loadBalancer.ingress[0].hostname, the name the sandbox DNS server resolves to the local
 * HTTPS gateway. Acts only while the helm-installed controller Deployment is available.
 */
export async function startAlbController(
  kc: KubeConfig,
  opts: {
    hostname: string
    log(m: string): void
    resyncMs?: number
    /** Only Ingresses with these labels (tests share one cluster); default all. */
    labelSelector?: string
  },
): Promise<{ stop(): Promise<void> }> {
  const net = kc.makeApiClient(NetworkingV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  let enqueue: (key: string) => void = () => {}
  const informer = await startInformer<V1Ingress>(
    kc,
    '/apis/networking.k8s.io/v1/ingresses',
    () => net.listIngressForAllNamespaces({ labelSelector: opts.labelSelector }),
    (i) => enqueue(`${i.metadata?.namespace}/${i.metadata?.name}`),
    opts.log,
    opts.labelSelector,
  )
  const reconciler = startReconciler({
    name: 'alb-controller',
    resyncMs: opts.resyncMs ?? 2000,
    onError: opts.log,
    keys: () => informer.cache.list().map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`),
    async reconcile(key) {
      const [namespace = '', name = ''] = key.split('/')
      const ingress = informer.cache.get(name, namespace)
      if (!ingress || !isAlbIngress(ingress)) return
      if (ingress.status?.loadBalancer?.ingress?.[0]?.hostname === opts.hostname) return
      if (!(await controllerDeployed(apps, 'aws-load-balancer-controller'))) return
      await net.patchNamespacedIngressStatus({ name, namespace, body: { status: { loadBalancer: { ingress: [{ hostname: opts.hostname }] } } } }, mergePatch)
      opts.log(`alb-controller: ${key} -> ${opts.hostname}`)
    },
  })
  enqueue = reconciler.enqueue
  informer.cache.list().forEach((i) => enqueue(`${i.metadata?.namespace}/${i.metadata?.name}`))
  return {
    async stop() {
      reconciler.stop()
      await informer.stop()
    },
  }
}
