import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { ExternalError } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'
import { isNotFound, apiMessage } from '../../k8s/api.js'
import { certificateArn } from '../../k8s/inputs.js'
import { kustomizeBuild } from '../../k8s/kustomize.js'
import type { KubeObject } from '../../k8s/objects.js'
import { rolloutStatuses, summarizeWaiting, waitForRollouts } from '../../k8s/rollout.js'
import { describeFailure } from '../../k8s/pods.js'
import { applyAndReport, checkResult, planObjects } from '../k8s/apply-step.js'
import { CERTIFICATE_ANNOTATION, jsonPointerEscape } from '../k8s/manifests.js'
import { planApply } from '../../k8s/apply.js'
import { configHash, renderAlertmanagerConfig, slackWebhook } from './alertmanager-config.js'

export const MONITORING_NAMESPACE = 'monitoring'
export const MONITORING_DEPLOYMENTS = ['prometheus', 'grafana', 'alertmanager', 'kube-state-metrics']
export const GRAFANA_ADMIN_SECRET = 'grafana-admin'
const ALERTMANAGER_SECRET = 'alertmanager-config'
const CONFIG_HASH_ANNOTATION = 'autolytiq.io/config-hash'

const params = z
  .object({
    dir: z.string().default('k8s/monitoring'),
    timeoutSeconds: z.number().int().min(10).max(7200).default(600),
  })
  .strict()
type Params = z.infer<typeof params>

const labels = { 'app.kubernetes.io/part-of': 'autolytiq-monitoring', 'app.kubernetes.io/managed-by': 'autolytiq' }

function secret(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: MONITORING_NAMESPACE, labels },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  }
}

async function grafanaSecretExists(ctx: Context): Promise<boolean> {
  const core = await ctx.clients.kube.core()
  try {
    const s = await core.readNamespacedSecret({ name: GRAFANA_ADMIN_SECRET, namespace: MONITORING_NAMESPACE })
    for (const v of Object.values(s.data ?? {})) registerSecret(Buffer.from(v, 'base64').toString())
    return Boolean(s.data?.['admin-password'])
  } catch (err) {
    if (isNotFound(err)) return false
    throw new ExternalError(`cannot read Secret ${MONITORING_NAMESPACE}/${GRAFANA_ADMIN_SECRET}: ${apiMessage(err)}`)
  }
}

function grafanaHost(ctx: Context): string {
  return ctx.env.grafanaDomain ?? `grafana.${ctx.env.domain}`
}

/**
 * k8s/monitoring built with this environment's Grafana host and certificate, the Alertmanager
 * configuration Secret (with its hash on the pod template so a change restarts Alertmanager), and
 * — only when it does not exist yet — a generated Grafana admin password. An existing password is
 * never replaced: it lives only in the cluster Secret, not in a local file.
 */
async function manifests(ctx: Context, p: Params): Promise<KubeObject[]> {
  const amConfig = renderAlertmanagerConfig(ctx, await slackWebhook(ctx))
  const { objects } = await kustomizeBuild(ctx.clients.exec, {
    root: ctx.root,
    dir: p.dir,
    patches: [
      {
        target: { kind: 'Ingress', name: 'grafana' },
        ops: [
          { op: 'replace', path: '/spec/rules/0/host', value: grafanaHost(ctx) },
          { op: 'replace', path: `/metadata/annotations/${jsonPointerEscape(CERTIFICATE_ANNOTATION)}`, value: certificateArn(ctx) },
        ],
      },
      {
        target: { kind: 'Deployment', name: 'alertmanager' },
        ops: [{ op: 'add', path: '/spec/template/metadata/annotations', value: { [CONFIG_HASH_ANNOTATION]: configHash(amConfig) } }],
      },
    ],
    signal: ctx.signal,
  })
  const extra = [secret(ALERTMANAGER_SECRET, { 'alertmanager.yml': amConfig })]
  if (!(await grafanaSecretExists(ctx))) {
    const password = randomBytes(24).toString('base64url')
    registerSecret(password)
    extra.push(secret(GRAFANA_ADMIN_SECRET, { 'admin-user': 'admin', 'admin-password': password }))
  }
  return [...objects, ...extra]
}

/** Plan phase 7 (7.1-7.6): Prometheus, Grafana, Alertmanager and kube-state-metrics, applied and rolled out. */
export const monitoringDeploy: Step<Params> = {
  id: 'monitoring.deploy',
  title: 'Prometheus, Grafana and Alertmanager',
  description:
    'Plan 7.1-7.6: server-side applies k8s/monitoring (plain Prometheus scrape configuration and alert rules, Grafana with its datasource and a dashboard per service, Alertmanager configured from a Secret); generates the Grafana admin password into a Secret once; waits for the rollouts.',
  danger: 'mutating',
  params,
  timeoutMs: 2 * 60 * 60_000,
  async plan(ctx, p) {
    return [
      `kubectl kustomize ${p.dir} (temporary layer: Grafana host ${grafanaHost(ctx)}, certificate ARN, Alertmanager config hash)`,
      `Secret ${MONITORING_NAMESPACE}/${ALERTMANAGER_SECRET}: Alertmanager routes and receivers${ctx.env.slackWebhook ? ' (Slack webhook from ' + (ctx.env.slackWebhook.env ? `$${ctx.env.slackWebhook.env}` : ctx.env.slackWebhook.secretId) + ')' : ' (no Slack webhook configured)'}`,
      `Secret ${MONITORING_NAMESPACE}/${GRAFANA_ADMIN_SECRET}: generated admin password, only if absent`,
      ...(await planObjects(ctx, await manifests(ctx, p))),
      `watch rollouts in ${MONITORING_NAMESPACE}: ${MONITORING_DEPLOYMENTS.join(', ')} (deadline ${p.timeoutSeconds} s)`,
    ]
  },
  async check(ctx, p) {
    const applied = checkResult(await planApply(ctx.clients.kube, await manifests(ctx, p)))
    if (applied.status !== 'done') return applied
    const statuses = await rolloutStatuses(ctx.clients.kube, MONITORING_NAMESPACE, MONITORING_DEPLOYMENTS)
    const failing = statuses.flatMap((s) => s.failures)
    if (failing.length) return { status: 'todo', detail: failing.map(describeFailure).join('; ') }
    const waiting = statuses.filter((s) => !s.done)
    if (waiting.length) return { status: 'todo', detail: summarizeWaiting(waiting) }
    return { status: 'done', detail: `${MONITORING_DEPLOYMENTS.length} deployments rolled out`, outputs: outputs(ctx) }
  },
  async run(ctx, p) {
    if (!ctx.env.slackWebhook)
      ctx.warn(`no Slack webhook configured for ${ctx.envName} (autolytiq.yaml slackWebhook): alerts are only visible in Alertmanager and Grafana`)
    const r = await applyAndReport(ctx, await manifests(ctx, p))
    ctx.log(`${r.created.length} created, ${r.updated.length} updated, ${r.unchanged} unchanged`)
    await waitForRollouts(ctx.clients.kube, {
      namespace: MONITORING_NAMESPACE,
      deployments: MONITORING_DEPLOYMENTS,
      timeoutMs: p.timeoutSeconds * 1000,
      signal: ctx.signal,
      log: ctx.log,
    })
    return outputs(ctx)
  },
}

function outputs(ctx: Context): Record<string, unknown> {
  return {
    namespace: MONITORING_NAMESPACE,
    grafanaUrl: `https://${grafanaHost(ctx)}`,
    // where the password is, never the password (a key named *Secret would be redacted as one)
    grafanaAdminLocation: `Kubernetes Secret ${MONITORING_NAMESPACE}/${GRAFANA_ADMIN_SECRET}, key admin-password`,
  }
}
