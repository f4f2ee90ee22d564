import type { Check, Context } from '../engine/types.js'
import { registerSecret } from '../engine/redact.js'

/** The Secret External Secrets syncs from Secrets Manager (plan 5.4): DATABASE_URL, REDIS_URL... */
export const APP_SECRET = 'autolytiq-secrets'

/** A value that could not be read, with the reason phrased for the check that needed it. */
export class SecretUnavailable extends Error {}

/**
 * Reads the application Secret once per verify run (the database and Redis checks both need it)
 * and registers every value as a secret before anything can print it.
 */
export class AppSecret {
  private data?: Promise<Record<string, string>>

  constructor(private readonly ctx: Context) {}

  private load(): Promise<Record<string, string>> {
    this.data ??= (async () => {
      const ns = this.ctx.env.namespace
      let secret
      try {
        secret = await (await this.ctx.clients.kube.core()).readNamespacedSecret({ name: APP_SECRET, namespace: ns })
      } catch (err) {
        if ((err as { code?: number }).code === 404)
          throw new SecretUnavailable(
            `Secret ${APP_SECRET} not found in namespace ${ns}: External Secrets has not synced it (kubectl get externalsecrets -n ${ns})`,
          )
        throw err
      }
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(secret.data ?? {})) {
        out[k] = Buffer.from(v, 'base64').toString('utf8')
        registerSecret(out[k])
        registerUrlPassword(out[k])
      }
      return out
    })()
    return this.data
  }

  async get(key: string): Promise<string> {
    const data = await this.load()
    const v = data[key]
    if (!v) throw new SecretUnavailable(`Secret ${APP_SECRET} in ${this.ctx.env.namespace} has no ${key}`)
    return v
  }
}

/** A password inside a URL is shorter than the URL and would survive redaction of the whole. */
export function registerUrlPassword(value: string): void {
  try {
    const u = new URL(value)
    if (u.password) registerSecret(decodeURIComponent(u.password))
  } catch {
    // not a URL: nothing more to register
  }
}

const EXTERNAL_SECRET_VERSIONS = ['v1', 'v1beta1']

/** Checklist "All secrets loaded from Secrets Manager": every ExternalSecret reports Ready. */
export function externalSecretsCheck(timeoutMs: number): Check {
  return {
    id: 'k8s.external-secrets',
    title: 'ExternalSecrets synced from Secrets Manager',
    layer: 'kubernetes',
    timeoutMs,
    async run(ctx) {
      const api = await ctx.clients.kube.custom()
      const namespace = ctx.env.namespace
      let items: { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string; message?: string }[] } }[] | undefined
      for (const version of EXTERNAL_SECRET_VERSIONS) {
        try {
          const res = (await api.listNamespacedCustomObject({ group: 'external-secrets.io', version, namespace, plural: 'externalsecrets' })) as {
            items: typeof items
          }
          items = res.items
          break
        } catch (err) {
          if ((err as { code?: number }).code !== 404) throw err
        }
      }
      if (!items) return { status: 'fail', detail: 'the ExternalSecret resource type is not installed (External Secrets Operator missing)' }
      if (!items.length) return { status: 'fail', detail: `no ExternalSecret in ${namespace}: secrets are not coming from Secrets Manager` }
      const bad = items
        .map((i) => ({ name: i.metadata?.name, ready: i.status?.conditions?.find((c) => c.type === 'Ready') }))
        .filter((i) => i.ready?.status !== 'True')
        .map((i) => `${i.name}: ${i.ready ? (i.ready.message ?? 'not ready') : 'never synced'}`)
      if (bad.length) return { status: 'fail', detail: bad.join('; ') }
      return { status: 'pass', detail: `${items.length} ExternalSecret(s) Ready` }
    },
  }
}
