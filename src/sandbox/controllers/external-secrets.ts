import { createHash } from 'node:crypto'
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1Secret,
} from '@kubernetes/client-node'
import { startInformer, type RunningInformer } from '../informer.js'
import { controllerDeployed } from './gate.js'
import { startReconciler } from './reconciler.js'

const GROUP = 'external-secrets.io'
const VERSION = 'v1'
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

interface Condition {
  type: string
  status: 'True' | 'False'
  reason: string
  message: string
  lastTransitionTime?: string
}

interface ExternalSecret extends KubernetesObject {
  spec: {
    secretStoreRef: { name: string; kind?: string }
    target?: { name?: string; creationPolicy?: string }
    data?: { secretKey: string; remoteRef: { key: string; property?: string } }[]
  }
  status?: { conditions?: Condition[]; syncedResourceVersion?: string; refreshTime?: string }
}

interface SecretStore extends KubernetesObject {
  spec: { provider?: { aws?: { service?: string; region?: string } } }
  status?: { conditions?: Condition[] }
}

const apiCode = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined)
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')

/** Sets `cond` unless an equal one is there; keeps lastTransitionTime when the status did not change. */
function withCondition(existing: Condition[] | undefined, cond: Condition): Condition[] | undefined {
  const old = existing?.find((c) => c.type === cond.type)
  if (old && old.status === cond.status && old.reason === cond.reason && old.message === cond.message) return undefined
  const lastTransitionTime = old && old.status === cond.status ? old.lastTransitionTime : now()
  return [...(existing ?? []).filter((c) => c.type !== cond.type), { ...cond, lastTransitionTime }]
}

/**
 * Plays the External Secrets Operator (plan 5.3/5.4) for the sandbox: ClusterSecretStores that
 * point at AWS Secrets Manager (moto) are validated and marked Ready; every ExternalSecret's
 * remote keys are read from Secrets Manager and written to its target Secret, with the status
 * condition Ready/SecretSynced the runbook and verify wait for. Any change to an ExternalSecret
 * (including the `force-sync` annotation) re-reads Secrets Manager at once; a resync every few
 * seconds catches values changed in Secrets Manager. Acts only while the helm-installed
 * operator Deployment is available.
 */
export async function startExternalSecretsController(
  kc: KubeConfig,
  opts: {
    awsEndpoint: string
    region: string
    log(m: string): void
    resyncMs?: number
    /** Only stores and ExternalSecrets with these labels (tests share one cluster); default all. */
    labelSelector?: string
  },
): Promise<{ stop(): Promise<void> }> {
  const custom = kc.makeApiClient(CustomObjectsApi)
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const sm = new SecretsManagerClient({
    endpoint: opts.awsEndpoint,
    region: opts.region,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  })
  const deployed = (): Promise<boolean> => controllerDeployed(apps, 'external-secrets')

  // --- ClusterSecretStores ---
  let enqueueStore: (key: string) => void = () => {}
  const stores: RunningInformer<SecretStore> = await startInformer<SecretStore>(
    kc,
    `/apis/${GROUP}/${VERSION}/clustersecretstores`,
    () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'clustersecretstores', labelSelector: opts.labelSelector }),
    (s) => enqueueStore(s.metadata?.name ?? ''),
    opts.log,
    opts.labelSelector,
  )
  const storeReconciler = startReconciler({
    name: 'external-secrets store',
    resyncMs: opts.resyncMs ?? 3000,
    onError: opts.log,
    keys: () => stores.cache.list().map((s) => s.metadata?.name ?? ''),
    async reconcile(name) {
      const store = stores.cache.get(name)
      if (!store || !(await deployed())) return
      let cond: Condition
      if (store.spec.provider?.aws?.service !== 'SecretsManager') {
        cond = { type: 'Ready', status: 'False', reason: 'InvalidProviderConfig', message: 'the sandbox supports only provider.aws.service SecretsManager' }
      } else {
        try {
          await sm.send(new ListSecretsCommand({ MaxResults: 1 }))
          cond = { type: 'Ready', status: 'True', reason: 'Valid', message: 'store validated' }
        } catch (err) {
          cond = { type: 'Ready', status: 'False', reason: 'ValidationFailed', message: `cannot reach Secrets Manager: ${(err as Error).message}` }
        }
      }
      const conditions = withCondition(store.status?.conditions, cond)
      if (!conditions) return
      await custom.patchClusterCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: 'clustersecretstores', name, body: { status: { capabilities: 'ReadWrite', conditions } } },
        mergePatch,
      )
      opts.log(`external-secrets: ClusterSecretStore ${name} ${cond.reason}`)
    },
  })
  enqueueStore = storeReconciler.enqueue

  // --- ExternalSecrets ---
  const storeReady = (name: string): boolean => stores.cache.get(name)?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false

  const readRemote = async (es: ExternalSecret): Promise<Record<string, string>> => {
    const cache = new Map<string, string>()
    const out: Record<string, string> = {}
    for (const item of es.spec.data ?? []) {
      const key = item.remoteRef.key
      if (!cache.has(key)) {
        const r = await sm.send(new GetSecretValueCommand({ SecretId: key }))
        cache.set(key, r.SecretString ?? '')
      }
      const raw = cache.get(key) ?? ''
      if (!item.remoteRef.property) {
        out[item.secretKey] = raw
        continue
      }
      let value: unknown
      try {
        value = (JSON.parse(raw) as Record<string, unknown>)[item.remoteRef.property]
      } catch {
        throw new Error(`${key} is not JSON, cannot read property ${item.remoteRef.property}`)
      }
      if (value === undefined) throw new Error(`${key} has no property ${item.remoteRef.property}`)
      out[item.secretKey] = typeof value === 'string' ? value : JSON.stringify(value)
    }
    return out
  }

  const writeTarget = async (es: ExternalSecret, values: Record<string, string>): Promise<void> => {
    const namespace = es.metadata?.namespace ?? 'default'
    const name = es.spec.target?.name ?? es.metadata?.name ?? ''
    const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
    let current: V1Secret | undefined
    try {
      current = await core.readNamespacedSecret({ name, namespace })
    } catch (err) {
      if (apiCode(err) !== 404) throw err
    }
    const owner = es.spec.target?.creationPolicy === 'Owner' || !es.spec.target?.creationPolicy
    const body: V1Secret = {
      metadata: {
        name,
        namespace,
        labels: { 'reconcile.external-secrets.io/managed': 'true' },
        ownerReferences: owner
          ? [
              {
                apiVersion: `${GROUP}/${VERSION}`,
                kind: 'ExternalSecret',
                name: es.metadata?.name ?? '',
                uid: es.metadata?.uid ?? '',
                controller: true,
                blockOwnerDeletion: true,
              },
            ]
          : undefined,
      },
      type: 'Opaque',
      data,
    }
    if (!current) await core.createNamespacedSecret({ namespace, body })
    else if (JSON.stringify(current.data ?? {}) !== JSON.stringify(data))
      await core.replaceNamespacedSecret({
        name,
        namespace,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } },
      })
  }

  let enqueueSecret: (key: string) => void = () => {}
  const lastForceSync = new Map<string, string | undefined>()
  const externalSecrets: RunningInformer<ExternalSecret> = await startInformer<ExternalSecret>(
    kc,
    `/apis/${GROUP}/${VERSION}/externalsecrets`,
    () => custom.listCustomObjectForAllNamespaces({ group: GROUP, version: VERSION, plural: 'externalsecrets', labelSelector: opts.labelSelector }),
    (es) => enqueueSecret(`${es.metadata?.namespace}/${es.metadata?.name}`),
    opts.log,
    opts.labelSelector,
  )
  const secretReconciler = startReconciler({
    name: 'external-secrets',
    resyncMs: opts.resyncMs ?? 3000,
    onError: opts.log,
    keys: () => externalSecrets.cache.list().map((es) => `${es.metadata?.namespace}/${es.metadata?.name}`),
    async reconcile(key) {
      const [namespace = '', name = ''] = key.split('/')
      const es = externalSecrets.cache.get(name, namespace)
      if (!es || !(await deployed())) return
      let cond: Condition
      let synced: string | undefined
      if (!storeReady(es.spec.secretStoreRef.name)) {
        cond = { type: 'Ready', status: 'False', reason: 'SecretSyncedError', message: `ClusterSecretStore ${es.spec.secretStoreRef.name} is not ready` }
      } else {
        try {
          const values = await readRemote(es)
          await writeTarget(es, values)
          synced = `${es.metadata?.generation ?? 0}-${createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 12)}`
          cond = { type: 'Ready', status: 'True', reason: 'SecretSynced', message: 'secret synced' }
        } catch (err) {
          cond = { type: 'Ready', status: 'False', reason: 'SecretSyncedError', message: `could not sync: ${(err as Error).message}` }
        }
      }
      const forceSync = es.metadata?.annotations?.['force-sync']
      const forced = forceSync !== undefined && forceSync !== lastForceSync.get(key)
      lastForceSync.set(key, forceSync)
      const conditions = withCondition(es.status?.conditions, cond)
      const changed = conditions || (synced && synced !== es.status?.syncedResourceVersion)
      // a force-sync is acknowledged with a new refreshTime even when the values did not change
      if (!changed && !forced) return
      const status: Record<string, unknown> = { conditions: conditions ?? es.status?.conditions, binding: { name: es.spec.target?.name ?? name } }
      if (synced) Object.assign(status, { syncedResourceVersion: synced, refreshTime: now() })
      await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: 'externalsecrets', namespace, name, body: { status } },
        mergePatch,
      )
      opts.log(`external-secrets: ${key} ${cond.reason}${cond.status === 'False' ? `: ${cond.message}` : ''}`)
    },
  })
  enqueueSecret = secretReconciler.enqueue
  stores.cache.list().forEach((s) => enqueueStore(s.metadata?.name ?? ''))
  externalSecrets.cache.list().forEach((es) => enqueueSecret(`${es.metadata?.namespace}/${es.metadata?.name}`))

  return {
    async stop() {
      storeReconciler.stop()
      secretReconciler.stop()
      await Promise.all([stores.stop(), externalSecrets.stop()])
      sm.destroy()
    },
  }
}
