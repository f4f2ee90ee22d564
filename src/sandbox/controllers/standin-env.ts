import { CoreV1Api, type KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node'
import { deploymentOfPod } from '../../rollback/pods-gone.js'
import { startInformer } from '../informer.js'

/**
 * What a kubelet does with `envFrom: secretRef`, for the stand-in processes: a pod reads the
 * Secret when it starts and keeps that value. So when a new pod of a Deployment appears (a scale
 * up, a rollout, a restart) and the Secret's key now holds another value than the service's
 * stand-in uses, the stand-in is told the new value; a Secret changed under running pods changes
 * nothing until pods are replaced — which is why the database rollback scales the services down
 * and up again.
 */
export async function startStandinEnv(
  kc: KubeConfig,
  o: {
    namespace: string
    /** The Secret the Deployments read (envFrom) and the key that matters to the stand-ins. */
    secret: string
    key: string
    /** The value each stand-in started with. */
    initial: Record<string, string>
    /** Delivers the new value to the service's stand-in; false when it has none or it is gone. */
    send(service: string, env: Record<string, string>): boolean
    log(message: string): void
  },
): Promise<{ stop(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api)
  const current = new Map(Object.entries(o.initial))
  const secrets = await startInformer<V1Secret>(
    kc,
    `/api/v1/namespaces/${o.namespace}/secrets`,
    () => core.listNamespacedSecret({ namespace: o.namespace }),
    () => {},
    o.log,
  )
  const seen = new Set<string>()
  const pods = await startInformer<V1Pod>(
    kc,
    `/api/v1/namespaces/${o.namespace}/pods`,
    () => core.listNamespacedPod({ namespace: o.namespace }),
    (pod, deleted) => {
      const uid = pod.metadata?.uid
      if (deleted || !uid) {
        if (uid) seen.delete(uid)
        return
      }
      if (seen.has(uid)) return // an update of a pod that already started
      seen.add(uid)
      const service = deploymentOfPod(pod)
      const raw = service ? secrets.cache.get(o.secret, o.namespace)?.data?.[o.key] : undefined
      if (!service || !raw || !current.has(service)) return
      const value = Buffer.from(raw, 'base64').toString('utf8')
      if (value === current.get(service)) return
      if (!o.send(service, { [o.key]: value })) return
      current.set(service, value)
      let host = '(unparseable)'
      try {
        host = new URL(value).host
      } catch {
        // the value is a secret: never print it
      }
      o.log(`standin-env: new pod ${pod.metadata?.name}: ${service} now uses ${o.key} from Secret ${o.secret} (host ${host})`)
    },
    o.log,
  )
  return {
    async stop() {
      await Promise.all([pods.stop(), secrets.stop()])
    },
  }
}
