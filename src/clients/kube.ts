import type * as k8s from '@kubernetes/client-node'
import { UserError } from '../engine/errors.js'

export interface KubeSettings {
  /** kubeconfig path; default the usual KUBECONFIG / ~/.kube/config */
  kubeconfig?: string
  context?: string
}

/**
 * The one place Kubernetes API clients are built (@kubernetes/client-node). Loaded lazily:
 * the library is heavy and most commands (status, log, runbook) never talk to a cluster.
 */
export class KubeClients {
  private loaded?: { lib: typeof k8s; kc: k8s.KubeConfig }

  constructor(readonly settings: KubeSettings) {}

  async lib(): Promise<typeof k8s> {
    return (await this.load()).lib
  }

  async config(): Promise<k8s.KubeConfig> {
    return (await this.load()).kc
  }

  private async load(): Promise<{ lib: typeof k8s; kc: k8s.KubeConfig }> {
    if (this.loaded) return this.loaded
    const lib = await import('@kubernetes/client-node')
    const kc = new lib.KubeConfig()
    try {
      if (this.settings.kubeconfig) kc.loadFromFile(this.settings.kubeconfig)
      else kc.loadFromDefault()
    } catch (err) {
      throw new UserError(
        `cannot load kubeconfig ${this.settings.kubeconfig ?? '(default)'}: ${(err as Error).message}`,
        'run the kube.config step (`autolytiq deploy --only kube.config`) or set KUBECONFIG',
      )
    }
    if (this.settings.context) {
      if (!kc.getContexts().some((c) => c.name === this.settings.context))
        throw new UserError(`kubeconfig has no context "${this.settings.context}"`, 'run `autolytiq deploy --only kube.config` to add it')
      kc.setCurrentContext(this.settings.context)
    }
    if (!kc.getCurrentCluster()) throw new UserError('kubeconfig has no current cluster', 'run `autolytiq deploy --only kube.config`')
    this.loaded = { lib, kc }
    return this.loaded
  }

  async core(): Promise<k8s.CoreV1Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.CoreV1Api)
  }

  async apps(): Promise<k8s.AppsV1Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.AppsV1Api)
  }

  async batch(): Promise<k8s.BatchV1Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.BatchV1Api)
  }

  async autoscaling(): Promise<k8s.AutoscalingV2Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.AutoscalingV2Api)
  }

  async policy(): Promise<k8s.PolicyV1Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.PolicyV1Api)
  }

  async networking(): Promise<k8s.NetworkingV1Api> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.NetworkingV1Api)
  }

  async custom(): Promise<k8s.CustomObjectsApi> {
    const { lib, kc } = await this.load()
    return kc.makeApiClient(lib.CustomObjectsApi)
  }

  async objects(): Promise<k8s.KubernetesObjectApi> {
    const { lib, kc } = await this.load()
    return lib.KubernetesObjectApi.makeApiClient(kc)
  }

  async watch(): Promise<k8s.Watch> {
    const { lib, kc } = await this.load()
    return new lib.Watch(kc)
  }
}
