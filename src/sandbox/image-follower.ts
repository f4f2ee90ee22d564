import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node'
import { startInformer } from './informer.js'

/** The file a stand-in follows to know which image the cluster runs for it (standin/misbehaviour.ts). */
export function imageFile(dir: string, service: string): string {
  return join(dir, `${service}.image`)
}

/**
 * Writes each catalog Deployment's image to `dir/<service>.image` whenever its template changes,
 * so the one stand-in process per service plays the release the cluster runs: a rollout to an
 * `err20` tag starts the failures, a rollback ends them.
 */
export async function followDeploymentImages(
  kc: KubeConfig,
  namespace: string,
  dir: string,
  services: string[],
  onError?: (m: string) => void,
): Promise<{ stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true })
  const api = kc.makeApiClient(AppsV1Api)
  const written = new Map<string, string>()
  const informer = await startInformer<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    () => api.listNamespacedDeployment({ namespace }),
    (d, deleted) => {
      const name = d.metadata?.name ?? ''
      const image = d.spec?.template?.spec?.containers?.[0]?.image
      if (deleted || !image || !services.includes(name) || written.get(name) === image) return
      const file = imageFile(dir, name)
      // Atomic: the stand-in never reads half a name.
      writeFileSync(`${file}.tmp`, image)
      renameSync(`${file}.tmp`, file)
      written.set(name, image)
    },
    onError,
  )
  return { stop: () => informer.stop() }
}
