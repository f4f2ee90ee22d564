import type { AppsV1Api } from '@kubernetes/client-node'

/**
 * A controller in the sandbox acts only once its own Deployment (installed by the runbook's helm
 * step) is available, as the real controller would only act once its pod runs. This keeps the
 * runbook's order meaningful: no Ingress address before helm.alb-controller, no synced secret
 * before helm.external-secrets.
 */
export async function controllerDeployed(apps: AppsV1Api, appName: string, namespace?: string): Promise<boolean> {
  const labelSelector = `app.kubernetes.io/name=${appName}`
  const list = namespace ? await apps.listNamespacedDeployment({ namespace, labelSelector }) : await apps.listDeploymentForAllNamespaces({ labelSelector })
  return list.items.some((d) => (d.status?.availableReplicas ?? 0) > 0)
}
