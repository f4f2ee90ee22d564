import { CoreV1Api, type KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node'
import { deploymentOfPod } from '../../rollback/pods-gone.js'
import { startInformer } from '../informer.js'

/**
 * What a kubelet does with `envFrom: secretRef`, for the stand-in processes: a pod reads the
 * Secret when it starts and keeps that value. So when a new pod of a Deployment appears (a scale
 * up, a rollout, a restart) and the Secret's key now holds another value than the service's
 * stand-in uses, the stand-in is told the new value; a Secret changed under running pods changes
 * nothing until pods are replaced — which is why the database rollback scales the services down
 * and up again. A stand-in starts with no value (initial ''): it gets one with its first pod.
 */
export async function startStandinEnv(
  kc: KubeConfig,
  o: {
    namespace: string
    /** The Secret the Deployments read (envFrom) and the key that matters to the stand-ins. */
    secret: string
    key: string
    /** The value each stand-in started with ('' for none yet). */
    initial: Record<string, string>
    /** Delivers the new value to the service's stand-in; false when it has none or it is gone. */
    send(service: string, env: Record<string, string>): boolean
    log(message: string): void
  },
): Promise<{ stop(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api)
  const current = new Map(Object.entries(o.initial))
  /** Services with a started pod: a stand-in that has no value yet takes the Secret's once it appears. */
  const started = new Set<string>()
  const deliver = (service: string, value: string, why: string): void => {
    if (value === current.get(service)) return
    if (!o.send(service, { [o.key]: value })) return
    current.set(service, value)
    let host = '(unparseable)'
    try {
      host = new URL(value).host
    } catch {
      // the value is a secret: never print it
    }
    o.log(`standin-env: ${why}: ${service} now uses ${o.key} from Secret ${o.secret} (host ${host})`)
  }
  const valueOf = (secret: V1Secret | undefined): string | undefined => {
    const raw = secret?.data?.[o.key]
    return raw ? Buffer.from(raw, 'base64').toString('utf8') : undefined
  }
  const secrets = await startInformer<V1Secret>(
    kc,
    `/api/v1/namespaces/${o.namespace}/secrets`,
    () => core.listNamespacedSecret({ namespace: o.namespace }),
    (secret, deleted) => {
      // A pod that started before the Secret existed (the ExternalSecret not synced yet) reads it
      // once it is there, as a kubelet retrying the container start would.
      const value = deleted || secret.metadata?.name !== o.secret ? undefined : valueOf(secret)
      if (!value) return
      for (const service of started) if (current.get(service) === '') deliver(service, value, `Secret ${o.secret} appeared after the pod started`)
    },
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
      if (!service || !current.has(service)) return
      started.add(service)
      const value = valueOf(secrets.cache.get(o.secret, o.namespace))
      if (value) deliver(service, value, `new pod ${pod.metadata?.name}`)
    },
    o.log,
  )
  return {
    async stop() {
      await Promise.all([pods.stop(), secrets.stop()])
    },
  }
}
