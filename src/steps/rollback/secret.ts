import type * as k8s from '@kubernetes/client-node'
import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'
import { FIELD_MANAGER, apiStatus } from '../../k8s/api.js'
import { waitForObject } from '../../k8s/wait.js'
import { REFRESH_STEP, describeCluster, readDatabaseSecret, repointed, secretHost, target, type DbRollbackTarget } from './db-target.js'

/** The restored cluster's writer endpoint, as RDS reports it now. */
async function restoredEndpoint(ctx: Context, t: DbRollbackTarget): Promise<string> {
  const c = await describeCluster(ctx, t.restoredCluster)
  if (!c?.Endpoint) throw new StepFailedError(`${t.restoredCluster} has no endpoint yet`, 're-run: rollback.db.wait-available waits for it')
  return c.Endpoint
}

const noParams = z.object({}).strict()

/** Both places a host lives (the `host` field and the url) name `endpoint`: a half-written secret is not done. */
function pointsAt(values: Record<string, unknown>, endpoint: string): boolean {
  const fieldOk = values.host === undefined || values.host === endpoint
  const urlOk = values.url === undefined || secretHost({ url: values.url }) === endpoint
  return fieldOk && urlOk && (values.host !== undefined || values.url !== undefined)
}

/** Plan "Database Rollback" 4 ("update DNS/connection strings"), scripted: the secret every service reads. */
export const dbUpdateSecret: Step<z.infer<typeof noParams>> = {
  id: 'rollback.db.update-secret',
  title: 'Point the database secret at the restored cluster',
  description:
    'Plan "Database Rollback" 4: rewrites host and the host of url in Secrets Manager autolytiq/<env>/database to the restored cluster endpoint, keeping user, password, port and database name (Secrets Manager keeps the previous version as AWSPREVIOUS).',
  danger: 'mutating',
  params: noParams,
  async plan(ctx) {
    const t = target(ctx)
    return [`secretsmanager PutSecretValue ${t.secretId}: host and url host ${t.previousHost} -> endpoint of ${t.restoredCluster} (other fields unchanged)`]
  },
  async check(ctx) {
    const t = target(ctx)
    const [secret, cluster] = await Promise.all([readDatabaseSecret(ctx, t.secretId), describeCluster(ctx, t.restoredCluster)])
    if (cluster?.Endpoint && pointsAt(secret.values, cluster.Endpoint))
      return { status: 'done', detail: `${t.secretId} points at ${cluster.Endpoint}`, outputs: { restoredCluster: t.restoredCluster, host: cluster.Endpoint } }
    return { status: 'todo', detail: `${t.secretId} points at ${secret.host}` }
  },
  async rollbackPoint(ctx) {
    const t = target(ctx)
    const secret = await readDatabaseSecret(ctx, t.secretId)
    return { kind: 'aws.secret-version', data: { secretId: t.secretId, versionId: secret.versionId, host: secret.host } }
  },
  async run(ctx) {
    const t = target(ctx)
    const endpoint = await restoredEndpoint(ctx, t)
    const secret = await readDatabaseSecret(ctx, t.secretId)
    const text = JSON.stringify(repointed(secret.values, endpoint))
    registerSecret(text)
    const { PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
    await (await ctx.clients.aws.secrets()).send(new PutSecretValueCommand({ SecretId: t.secretId, SecretString: text }))
    ctx.log(`${t.secretId}: ${secret.host} -> ${endpoint}`)
    return { restoredCluster: t.restoredCluster, host: endpoint }
  },
}

const refreshParams = z
  .object({
    externalSecret: z.string().default('autolytiq-secrets'),
    /** The key of the target Secret that carries the database URL. */
    secretKey: z.string().default('DATABASE_URL'),
    timeoutSeconds: z.number().int().min(1).default(300),
  })
  .strict()
type RefreshParams = z.infer<typeof refreshParams>

interface ExternalSecret extends k8s.KubernetesObject {
  spec?: { target?: { name?: string } }
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
}

const GROUP = 'external-secrets.io'

/** The ExternalSecret, at whichever API version the installed operator serves (v1, or v1beta1 before ESO 0.17). */
async function readExternalSecret(ctx: Context, p: RefreshParams): Promise<{ es: ExternalSecret; version: string }> {
  const custom = await ctx.clients.kube.custom()
  for (const version of ['v1', 'v1beta1']) {
    try {
      const es = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version,
        namespace: ctx.env.namespace,
        plural: 'externalsecrets',
        name: p.externalSecret,
      })) as ExternalSecret
      return { es, version }
    } catch (err) {
      if (apiStatus(err) !== 404) throw err
    }
  }
  throw new UserError(
    `ExternalSecret ${p.externalSecret} not found in ${ctx.env.namespace} (${GROUP} v1 or v1beta1)`,
    `the services read DATABASE_URL through it: deploy it first (\`autolytiq deploy --env ${ctx.envName} --only k8s.external-secrets\`)`,
  )
}

/** Host of the database URL in the Kubernetes Secret, registering the value (it holds the password). */
function urlHost(secret: k8s.V1Secret | undefined, key: string): string | undefined {
  const raw = secret?.data?.[key]
  if (!raw) return undefined
  const url = Buffer.from(raw, 'base64').toString('utf8')
  registerSecret(url)
  return secretHost({ url })
}

async function readTargetSecret(ctx: Context, name: string): Promise<k8s.V1Secret | undefined> {
  try {
    return await (await ctx.clients.kube.core()).readNamespacedSecret({ name, namespace: ctx.env.namespace })
  } catch (err) {
    if (apiStatus(err) === 404) return undefined
    throw err
  }
}

/**
 * The services read DATABASE_URL from the Secret the External Secrets operator writes, which it
 * refreshes only hourly (refreshInterval 1h): ask for a sync now, as the ESO docs say (annotate
 * `force-sync`), and wait — watching the Secret — until it carries the restored endpoint.
 */
export const dbRefreshExternalSecret: Step<RefreshParams> = {
  id: REFRESH_STEP,
  title: 'Refresh the ExternalSecret now',
  description:
    'Annotates the ExternalSecret with force-sync=<time> so the External Secrets operator re-reads Secrets Manager at once, then watches its target Secret until DATABASE_URL points at the restored cluster.',
  danger: 'mutating',
  params: refreshParams,
  timeoutMs: 15 * 60_000,
  async plan(ctx, p) {
    return [
      `PATCH ${GROUP} namespaces/${ctx.env.namespace}/externalsecrets/${p.externalSecret} metadata.annotations.force-sync=<unix time>`,
      `watch Secret ${ctx.env.namespace}/<its target> until ${p.secretKey} points at the endpoint of ${target(ctx).restoredCluster} (at most ${p.timeoutSeconds} s)`,
    ]
  },
  async check(ctx, p) {
    const t = target(ctx)
    const { es } = await readExternalSecret(ctx, p)
    const name = es.spec?.target?.name ?? p.externalSecret
    const [secret, endpoint] = await Promise.all([readTargetSecret(ctx, name), describeCluster(ctx, t.restoredCluster).then((c) => c?.Endpoint)])
    const host = urlHost(secret, p.secretKey)
    if (endpoint && host === endpoint)
      return {
        status: 'done',
        detail: `Secret ${name} ${p.secretKey} points at ${host}`,
        outputs: { restoredCluster: t.restoredCluster, syncedAt: new Date().toISOString() },
      }
    return { status: 'todo', detail: `Secret ${name} ${p.secretKey} points at ${host ?? '(nothing)'}` }
  },
  async run(ctx, p) {
    const t = target(ctx)
    const endpoint = await restoredEndpoint(ctx, t)
    const { es, version } = await readExternalSecret(ctx, p)
    const name = es.spec?.target?.name ?? p.externalSecret
    const namespace = ctx.env.namespace
    const [custom, core, lib] = await Promise.all([ctx.clients.kube.custom(), ctx.clients.kube.core(), ctx.clients.kube.lib()])
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version,
        namespace,
        plural: 'externalsecrets',
        name: p.externalSecret,
        body: { metadata: { annotations: { 'force-sync': String(Math.floor(Date.now() / 1000)) } } },
        fieldManager: FIELD_MANAGER,
      },
      lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch),
    )
    ctx.log(`asked the External Secrets operator to sync ${p.externalSecret} now`)
    await waitForObject<k8s.V1Secret, string>(ctx.clients.kube, {
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: (fieldSelector) => core.listNamespacedSecret({ namespace, fieldSelector }),
      name,
      namespace,
      timeoutMs: p.timeoutSeconds * 1000,
      signal: ctx.signal,
      log: ctx.log,
      evaluate: (secret) => {
        const host = urlHost(secret, p.secretKey)
        return host === endpoint ? { done: true, value: host } : { done: false, progress: `waiting: ${p.secretKey} still points at ${host ?? '(nothing)'}` }
      },
      onTimeout: (secret) =>
        new StepFailedError(
          `ExternalSecret ${p.externalSecret} did not sync within ${p.timeoutSeconds} s: ${p.secretKey} still points at ${urlHost(secret, p.secretKey) ?? '(nothing)'}`,
          `is the External Secrets operator running? \`kubectl -n ${namespace} describe externalsecret ${p.externalSecret}\`; re-run to wait again`,
        ),
    })
    return { restoredCluster: t.restoredCluster, syncedAt: new Date().toISOString() }
  },
}
