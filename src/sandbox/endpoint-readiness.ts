import { DiscoveryV1Api, type KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node'
import { startInformer, type RunningInformer } from './informer.js'

const SERVICE_LABEL = 'kubernetes.io/service-name'

export interface EndpointReadiness {
  /** Ready endpoints of the Service `name` in the watched namespace (0 when none or unknown). */
  ready(name: string): number
  stop(): Promise<void>
}

/**
 * Ready endpoints per Service, from the EndpointSlices the real endpointslice-controller keeps
 * (pods that are Ready). This is what an ALB target group or kube-proxy sees: a crash-looping
 * pod is not Ready, so it gets no traffic.
 */
export async function watchEndpointReadiness(kc: KubeConfig, namespace: string, onError?: (m: string) => void): Promise<EndpointReadiness> {
  const api = kc.makeApiClient(DiscoveryV1Api)
  const informer: RunningInformer<V1EndpointSlice> = await startInformer<V1EndpointSlice>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    () => api.listNamespacedEndpointSlice({ namespace }),
    () => {},
    onError,
  )
  return {
    ready(name) {
      let n = 0
      for (const slice of informer.cache.list(namespace)) {
        if (slice.metadata?.labels?.[SERVICE_LABEL] !== name) continue
        // `ready` unset means ready (API contract); terminating endpoints are not
        n += (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false && !e.conditions?.terminating).length
      }
      return n
    },
    stop: () => informer.stop(),
  }
}
