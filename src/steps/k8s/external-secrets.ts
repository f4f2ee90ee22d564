import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { isNotFound } from '../../k8s/api.js'
import type { KubeObject } from '../../k8s/objects.js'
import { describeCondition, findCondition, waitForObject } from '../../k8s/wait.js'
import { applyAndReport, checkObjects, planObjects } from './apply-step.js'
import { buildApp } from './manifests.js'
import { externalSecretsOf, targetKeys, targetName, type ExternalSecretObject } from '../../k8s/external-secrets.js'
import { ESO_GROUP, ESO_VERSION } from './secret-store.js'

const params = z.object({ timeoutSeconds: z.number().int().min(1).max(3600).default(180) }).strict()

type ExternalSecret = ExternalSecretObject & {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
}

function externalSecrets(objects: KubeObject[]): ExternalSecret[] {
  return externalSecretsOf(objects) as ExternalSecret[]
}

/** The keys the Secret gets: the template's keys when it composes them (DATABASE_URL from host, port, ...), else the data keys. */
const wantedKeys = (es: ExternalSecret): string[] => targetKeys(es)

/**
 * Keys of the target Secret that are missing or empty. Only key names and lengths are looked at:
 * the values are secrets and never leave this function.
 */
async function missingKeys(ctx: Context, es: ExternalSecret): Promise<string[] | 'no-secret'> {
  const core = await ctx.clients.kube.core()
  try {
    const secret = await core.readNamespacedSecret({ name: targetName(es), namespace: es.metadata.namespace! })
    const data = secret.data ?? {}
    return wantedKeys(es).filter((k) => !data[k])
  } catch (err) {
    if (isNotFound(err)) return 'no-secret'
    throw err
  }
}

function synced(obj: unknown): boolean {
  const ready = findCondition(obj, 'Ready')
  return ready?.status === 'True' && (ready.reason ?? 'SecretSynced') === 'SecretSynced'
}

/**
 * The operator's newest Warning event for the ExternalSecret: its condition only says "could not
 * get secret data from provider", the event says which remote key and why (`key url does not exist
 * in secret autolytiq/prod/database`, `Secrets Manager can't find the specified secret`).
 */
async function operatorReason(ctx: Context, namespace: string, name: string): Promise<string | undefined> {
  try {
    const core = await ctx.clients.kube.core()
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=ExternalSecret,involvedObject.name=${name},type=Warning` })
    const time = (e: (typeof events.items)[number]): number => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime()
    return events.items.sort((a, b) => time(a) - time(b)).pop()?.message
  } catch {
    return undefined // the reason is a help, not a requirement
  }
}

async function waitSynced(ctx: Context, es: ExternalSecret, timeoutMs: number): Promise<void> {
  const custom = await ctx.clients.kube.custom()
  const namespace = es.metadata.namespace!
  const name = es.metadata.name
  let failed: string | undefined
  await waitForObject<ExternalSecret, true>(ctx.clients.kube, {
    path: `/apis/${ESO_GROUP}/${ESO_VERSION}/namespaces/${namespace}/externalsecrets`,
    list: (fieldSelector) => custom.listNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: 'externalsecrets', fieldSelector }),
    name,
    namespace,
    timeoutMs,
    signal: ctx.signal,
    log: ctx.log,
    evaluate: (obj) => {
      if (synced(obj)) return { done: true, value: true }
      const ready = findCondition(obj, 'Ready')
      // SecretSyncedError is reported by the operator and will not fix itself without a change
      if (ready?.reason === 'SecretSyncedError' && ready.status === 'False') {
        failed = describeCondition(ready)
        return { done: true, value: true }
      }
      return { done: false, progress: `ExternalSecret ${namespace}/${name}: ${describeCondition(ready)}` }
    },
    onTimeout: (last) =>
      new StepFailedError(
        `ExternalSecret ${namespace}/${name} did not sync within ${Math.round(timeoutMs / 1000)} s (Secret ${targetName(es)} not written): ${describeCondition(findCondition(last, 'Ready'))}`,
        syncHint(ctx),
      ),
  })
  if (failed) {
    // the operator records the event right after the status: give it a moment
    let reason: string | undefined
    for (let i = 0; i < 10 && !reason; i++) reason = (await operatorReason(ctx, namespace, name)) ?? (await new Promise((r) => setTimeout(r, 200)), undefined)
    throw new StepFailedError(`ExternalSecret ${namespace}/${name} failed to sync: ${failed}${reason ? ` (operator: ${reason})` : ''}`, syncHint(ctx))
  }
}

function syncHint(ctx: Context): string {
  return `check that the secrets exist in Secrets Manager (phase 3: \`autolytiq deploy --env ${ctx.envName} --phase 3\`), that the ClusterSecretStore is Ready (k8s.secret-store), and the operator's logs (\`kubectl -n external-secrets logs deploy/external-secrets\`); then re-run`
}

/** Plan 5.4: the ExternalSecret for autolytiq-secrets, waited for until synced and complete. */
export const k8sExternalSecrets: Step<z.infer<typeof params>> = {
  id: 'k8s.external-secrets',
  title: 'Application secrets (ExternalSecret)',
  description:
    'Plan 5.4: server-side applies the ExternalSecrets (autolytiq-secrets: DATABASE_URL and REDIS_URL composed from the database and redis fields, JWT_SECRET, PII_ENCRYPTION_KEY, SESSION_SECRET, RESEND_API_KEY, SENTRY_DSN; autolytiq-smtp for email-service); waits for SecretSynced and checks each Secret has every key (values never read out).',
  danger: 'mutating',
  params,
  async plan(ctx, p) {
    const objs = externalSecrets(await buildApp(ctx))
    return [
      ...(await planObjects(ctx, objs)),
      ...objs.map((es) => `wait up to ${p.timeoutSeconds} s for ExternalSecret ${es.metadata.name} Ready=True (SecretSynced), then check Secret ${targetName(es)} has ${wantedKeys(es).join(', ')}`),
    ]
  },
  async check(ctx) {
    const objs = externalSecrets(await buildApp(ctx))
    const applied = await checkObjects(ctx, objs)
    if (applied.status !== 'done') return applied
    const custom = await ctx.clients.kube.custom()
    for (const es of objs) {
      const live = await custom.getNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace: es.metadata.namespace!, plural: 'externalsecrets', name: es.metadata.name })
      if (!synced(live)) return { status: 'todo', detail: `ExternalSecret ${es.metadata.name}: ${describeCondition(findCondition(live, 'Ready'))}` }
      const missing = await missingKeys(ctx, es)
      if (missing === 'no-secret' || missing.length) return { status: 'todo', detail: `Secret ${targetName(es)} is ${missing === 'no-secret' ? 'missing' : `missing ${missing.join(', ')}`}` }
    }
    return { status: 'done', detail: objs.map((es) => `${targetName(es)}: ${wantedKeys(es).length} keys synced`).join('; ') }
  },
  async run(ctx, p) {
    const objs = externalSecrets(await buildApp(ctx))
    await applyAndReport(ctx, objs)
    for (const es of objs) await waitSynced(ctx, es, p.timeoutSeconds * 1000)
    return { secrets: objs.map(targetName) }
  },
  async verify(ctx) {
    for (const es of externalSecrets(await buildApp(ctx))) {
      const missing = await missingKeys(ctx, es)
      if (missing === 'no-secret') throw new StepFailedError(`ExternalSecret ${es.metadata.name} reports synced but Secret ${targetName(es)} does not exist`, syncHint(ctx))
      if (missing.length)
        throw new StepFailedError(`Secret ${targetName(es)} lacks ${missing.join(', ')} (missing or empty)`, `add them to Secrets Manager (autolytiq/${ctx.envName}/...), then re-run`)
    }
  },
}
