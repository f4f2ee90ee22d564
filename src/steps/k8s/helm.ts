import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir, userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { z } from 'zod'
import { ExternalError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { deepEqual } from '../../k8s/diff.js'
import { terraformOutput } from '../../k8s/inputs.js'
import { ESO_RELEASE, esoInstall } from '../../sandbox/components/external-secrets.js'

/** Rollback point kind: the release's revision before this run upgraded it (`helm rollback` takes it). */
export const HELM_POINT = 'helm.revision'

const params = z
  .object({
    /**
     * Chart to install: a local chart folder (relative to the project root) or a chart name in
     * `repo`. Default: the upstream chart, or the stand-in under k8s/sandbox-charts in the sandbox.
     */
    chart: z.string().min(1).optional(),
    repo: z.string().url().optional(),
    version: z.string().min(1).optional(),
    timeoutSeconds: z.number().int().min(30).max(3600).default(300),
  })
  .strict()
type Params = z.infer<typeof params>

interface HelmRelease {
  id: string
  title: string
  description: string
  release: string
  namespace: string
  repo: string
  chart: string
  version: string
  /** The chart the sandbox installs (no chart repository can be reached there): a folder, relative to the project root or absolute. */
  sandboxChart: string | (() => string)
  /** Values set on top of values(ctx) where the local chart is installed (sandbox, tests), each with its reason. */
  sandboxValues?: Record<string, unknown>
  values(ctx: Context): Record<string, unknown>
}

interface ResolvedChart {
  /** What `helm upgrade --install` takes: a path or a chart name. */
  ref: string
  repo?: string
  version?: string
  /** The chart name and version helm reports (`<name>-<version>`). */
  expected?: string
}

function resolveChart(ctx: Context, spec: HelmRelease, p: Params): ResolvedChart {
  const sandboxChart = typeof spec.sandboxChart === 'function' ? spec.sandboxChart() : spec.sandboxChart
  const local = p.chart ?? (ctx.env.sandbox ? sandboxChart : undefined)
  if (local && !p.repo) {
    const dir = resolve(ctx.root, local)
    if (existsSync(join(dir, 'Chart.yaml'))) {
      const meta = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as { name?: string; version?: string }
      return { ref: dir, expected: `${meta.name}-${meta.version}` }
    }
    if (p.chart) throw new UserError(`chart ${p.chart} is not a chart folder (no Chart.yaml in ${dir})`, 'pass a chart folder, or a chart name with repo:')
  }
  const chart = p.chart ?? spec.chart
  const version = p.version ?? spec.version
  return { ref: chart, repo: p.repo ?? spec.repo, version, expected: `${chart.split('/').pop()}-${version}` }
}

/** --kubeconfig/--kube-context of this environment's cluster, as the API clients use it. */
function kubeArgs(ctx: Context): string[] {
  const s = ctx.clients.kube.settings
  return [...(s.kubeconfig ? ['--kubeconfig', s.kubeconfig] : []), ...(s.context ? ['--kube-context', s.context] : [])]
}

interface HistoryEntry {
  revision: number
  status: string
  chart: string
  app_version?: string
}

/** The release's latest revision, or undefined when it was never installed. */
async function latestRevision(ctx: Context, spec: HelmRelease): Promise<HistoryEntry | undefined> {
  return (await history(ctx, spec, 1)).pop()
}

/** The release's last `max` revisions, oldest first; empty when it was never installed. */
async function history(ctx: Context, spec: HelmRelease, max: number): Promise<HistoryEntry[]> {
  const r = await ctx.clients.exec('helm', ['history', spec.release, '-n', spec.namespace, '--max', String(max), '-o', 'json', ...kubeArgs(ctx)], {
    okExitCodes: [1],
    timeoutMs: 60_000,
    signal: ctx.signal,
  })
  if (r.exitCode === 1) {
    if (/not found/i.test(r.stderr)) return []
    throw new ExternalError(`\`helm history ${spec.release}\` failed: ${r.stderr.trim()}`, 'helm history', r.stderr)
  }
  return JSON.parse(r.stdout) as HistoryEntry[]
}

/**
 * A release left pending-install/-upgrade/-rollback by a helm run that was killed (Ctrl-C twice,
 * a crash) refuses every further upgrade. Return it to its last deployed revision, or remove a
 * first install that never completed, so the upgrade can run again.
 */
async function recoverInterrupted(ctx: Context, spec: HelmRelease, latest: HistoryEntry, timeoutSeconds: number): Promise<void> {
  const deployed = (await history(ctx, spec, 20)).filter((h) => h.status === 'deployed' || h.status === 'superseded').pop()
  const args = deployed
    ? ['rollback', spec.release, String(deployed.revision), '-n', spec.namespace, '--wait', '--timeout', `${timeoutSeconds}s`]
    : ['uninstall', spec.release, '-n', spec.namespace, '--wait', '--timeout', `${timeoutSeconds}s`]
  ctx.log(`${spec.release} revision ${latest.revision} is ${latest.status} (an interrupted helm run): helm ${args.slice(0, 3).join(' ')}`)
  await ctx.clients.exec('helm', [...args, ...kubeArgs(ctx)], { timeoutMs: (timeoutSeconds + 60) * 1000, signal: ctx.signal, onLine: (l) => ctx.log(l) })
}

async function deployedValues(ctx: Context, spec: HelmRelease): Promise<unknown> {
  const r = await ctx.clients.exec('helm', ['get', 'values', spec.release, '-n', spec.namespace, '-o', 'json', ...kubeArgs(ctx)], {
    timeoutMs: 60_000,
    signal: ctx.signal,
  })
  return JSON.parse(r.stdout || 'null') ?? {}
}

function upgradeArgs(ctx: Context, spec: HelmRelease, chart: ResolvedChart, valuesFile: string, p: Params): string[] {
  return [
    'upgrade',
    '--install',
    spec.release,
    chart.ref,
    ...(chart.repo ? ['--repo', chart.repo] : []),
    ...(chart.version ? ['--version', chart.version] : []),
    '--namespace',
    spec.namespace,
    '--create-namespace',
    '--values',
    valuesFile,
    '--wait',
    '--timeout',
    `${p.timeoutSeconds}s`,
    '--description',
    helmDescription(ctx, spec),
    ...kubeArgs(ctx),
  ]
}

/** Stored with the release revision: who installed it, read back by verify's "what changed". */
export function helmDescription(ctx: Pick<Context, 'runId' | 'envName'>, spec: Pick<HelmRelease, 'release'>): string {
  return `autolytiq helm.${spec.release} by ${userInfo().username}@${hostname()} (${ctx.envName}, run ${ctx.runId})`
}

/**
 * Plan 5.1 as an idempotent step: `helm upgrade --install` (the plan's `helm install` fails on a
 * second run) with values from terraform outputs, waiting for the release's workloads; the
 * revision it replaces is recorded first so `helm rollback` can return to it.
 */
/**
 * The values for this install: a local chart folder means a cluster no chart repository reaches
 * (the sandbox, the test cluster), where the release's sandboxValues apply too.
 */
function valuesFor(ctx: Context, spec: HelmRelease, chart: ResolvedChart): Record<string, unknown> {
  return !chart.repo && spec.sandboxValues ? { ...spec.values(ctx), ...spec.sandboxValues } : spec.values(ctx)
}

function helmReleaseStep(spec: HelmRelease): Step<Params> {
  return {
    id: spec.id,
    title: spec.title,
    description: spec.description,
    danger: 'mutating',
    params,
    timeoutMs: 20 * 60_000,
    async plan(ctx, p) {
      const chart = resolveChart(ctx, spec, p)
      return [
        `helm history ${spec.release} -n ${spec.namespace} --max 1 -o json`,
        `(a release left pending-* by an interrupted helm run: helm rollback ${spec.release} <last deployed revision>, or helm uninstall if it never deployed)`,
        `helm get values ${spec.release} -n ${spec.namespace} -o json`,
        `helm ${upgradeArgs(ctx, spec, chart, '<values.json>', p).join(' ')}`,
        `  values: ${JSON.stringify(valuesFor(ctx, spec, chart))}`,
      ]
    },
    async check(ctx, p) {
      const chart = resolveChart(ctx, spec, p)
      const desired = valuesFor(ctx, spec, chart)
      const latest = await latestRevision(ctx, spec)
      if (!latest) return { status: 'todo', detail: `release ${spec.release} not installed in ${spec.namespace}` }
      if (latest.status.startsWith('pending'))
        return { status: 'drift', detail: `revision ${latest.revision} is ${latest.status} (an interrupted helm run); it will be recovered, then upgraded` }
      if (latest.status !== 'deployed') return { status: 'drift', detail: `revision ${latest.revision} is ${latest.status}` }
      if (chart.expected && latest.chart !== chart.expected) return { status: 'drift', detail: `chart ${latest.chart} installed, ${chart.expected} wanted` }
      const values = await deployedValues(ctx, spec)
      if (!deepEqual(values, desired)) return { status: 'drift', detail: 'values differ from terraform outputs' }
      return {
        status: 'done',
        detail: `${latest.chart} revision ${latest.revision}`,
        outputs: { release: spec.release, namespace: spec.namespace, revision: latest.revision, chart: latest.chart },
      }
    },
    async rollbackPoint(ctx) {
      const latest = await latestRevision(ctx, spec)
      if (!latest) return undefined
      return { kind: HELM_POINT, data: { release: spec.release, namespace: spec.namespace, revision: latest.revision, chart: latest.chart, status: latest.status } }
    },
    async run(ctx, p) {
      const chart = resolveChart(ctx, spec, p)
      const before = await latestRevision(ctx, spec)
      if (before?.status.startsWith('pending')) await recoverInterrupted(ctx, spec, before, p.timeoutSeconds)
      const dir = mkdtempSync(join(tmpdir(), 'autolytiq-helm-'))
      try {
        // a values file, not --set: annotation keys contain dots that --set would split
        const valuesFile = join(dir, 'values.json')
        writeFileSync(valuesFile, JSON.stringify(valuesFor(ctx, spec, chart)), { mode: 0o600 })
        ctx.log(`helm upgrade --install ${spec.release} (${chart.ref}${chart.version ? ` ${chart.version}` : ''})`)
        await ctx.clients.exec('helm', upgradeArgs(ctx, spec, chart, valuesFile, p), {
          timeoutMs: (p.timeoutSeconds + 60) * 1000,
          signal: ctx.signal,
          onLine: (l) => ctx.log(l),
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
      const latest = await latestRevision(ctx, spec)
      return { release: spec.release, namespace: spec.namespace, revision: latest?.revision, chart: latest?.chart }
    },
    async verify(ctx) {
      const latest = await latestRevision(ctx, spec)
      if (latest?.status !== 'deployed') throw new ExternalError(`helm release ${spec.release} is ${latest?.status ?? 'missing'} after the upgrade`)
    },
  }
}

export const helmAlbController = helmReleaseStep({
  id: 'helm.alb-controller',
  title: 'AWS Load Balancer Controller (Helm)',
  description:
    'Plan 5.1: helm upgrade --install eks/aws-load-balancer-controller in kube-system with the cluster name, region, VPC id and IRSA role from terraform outputs; waits for it; records the previous revision.',
  release: 'aws-load-balancer-controller',
  namespace: 'kube-system',
  repo: 'https://aws.github.io/eks-charts',
  chart: 'aws-load-balancer-controller',
  version: '1.13.0',
  sandboxChart: 'k8s/sandbox-charts/aws-load-balancer-controller',
  values: (ctx) => ({
    clusterName: ctx.env.eksCluster,
    region: ctx.env.region,
    vpcId: terraformOutput(ctx, 'vpc_id'),
    serviceAccount: {
      create: true,
      name: 'aws-load-balancer-controller',
      annotations: { 'eks.amazonaws.com/role-arn': terraformOutput(ctx, 'alb_controller_role_arn') },
    },
  }),
})

export const helmExternalSecrets = helmReleaseStep({
  id: 'helm.external-secrets',
  title: 'External Secrets Operator (Helm)',
  description:
    'Plan 5.1: helm upgrade --install external-secrets/external-secrets in external-secrets with CRDs and the IRSA role from terraform outputs; waits for it; records the previous revision.',
  release: 'external-secrets',
  namespace: 'external-secrets',
  repo: 'https://charts.external-secrets.io',
  chart: 'external-secrets',
  // the version the sandbox and the tests run for real (built from the Go module proxy, which
  // refuses v0.19.1 and serves v1.x only without its providers): rehearse what production runs
  version: ESO_RELEASE.replace(/^v/, ''),
  // the upstream chart from the same Go module (test/harness/scripts/build-eso.sh), values checked by its values.schema.json
  sandboxChart: () => esoInstall().chartDir,
  sandboxValues: {
    // The sandbox runs the controller itself out of cluster (src/sandbox/controllers/external-secrets-operator.ts)
    // but nothing can run the admission webhook's pod, and the API server would call it for every
    // ExternalSecret: no webhook, so no cert-controller for its certificate. The upstream CRDs'
    // schemas still reject unknown and misspelled fields.
    webhook: { create: false },
    certController: { create: false },
  },
  values: (ctx) => ({
    installCRDs: true,
    serviceAccount: {
      create: true,
      // k8s/external-secrets/cluster-secret-store.yaml authenticates as this service account
      name: 'external-secrets',
      annotations: { 'eks.amazonaws.com/role-arn': terraformOutput(ctx, 'external_secrets_role_arn') },
    },
  }),
})

/**
 * EKS ships no metrics-server: without it every HPA reports FailedGetResourceMetric, never scales,
 * and the go-live checklist's `hpa` item can never pass. The upstream chart registers the
 * v1beta1.metrics.k8s.io APIService the HPA controller reads.
 */
export const helmMetricsServer = helmReleaseStep({
  id: 'helm.metrics-server',
  title: 'metrics-server for the HPAs (Helm)',
  description:
    'EKS does not ship metrics-server: helm upgrade --install metrics-server/metrics-server in kube-system (the metrics.k8s.io API the HorizontalPodAutoscalers read); waits for it; records the previous revision.',
  release: 'metrics-server',
  namespace: 'kube-system',
  repo: 'https://kubernetes-sigs.github.io/metrics-server/',
  chart: 'metrics-server',
  version: '3.12.2',
  sandboxChart: 'k8s/sandbox-charts/metrics-server',
  values: () => ({ apiService: { create: true } }),
})
