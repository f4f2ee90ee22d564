import { AppsV1Api, AutoscalingV2Api, PolicyV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node'
import { watchUntil } from '../harness/kube-wait.js'

/**
 * One catalog service as the kustomize base deploys it and `verify` checks it: a 2-replica
 * Deployment, an HPA (2-8) and a PDB; resolves once both replicas are available.
 */
export async function deployVerifiableService(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const labels = { 'app.kubernetes.io/name': name }
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name, image: `autolytiq/${name}:v1.0.0` }] } },
      },
    },
  })
  await kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
    namespace,
    body: { metadata: { name }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, minReplicas: 2, maxReplicas: 8 } },
  })
  await kc.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace,
    body: { metadata: { name }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
  })
  await watchUntil<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    (d) => d.metadata?.name === name && d.status?.availableReplicas === 2,
    {
      timeoutMs: 60_000,
    },
  )
}
