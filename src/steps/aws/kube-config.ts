import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { parse, stringify } from 'yaml'
import { defaultKubeconfig } from '../../engine/context.js'
import { errorMessage, StepFailedError, UserError } from '../../engine/errors.js'
import { writeFileAtomic } from '../../engine/state.js'
import type { Context, Step } from '../../engine/types.js'
import { infraNames } from './infra-status.js'

const params = z.object({}).strict()

interface Named {
  name: string
  [key: string]: unknown
}

interface KubeconfigFile {
  apiVersion?: string
  kind?: string
  clusters?: Named[]
  users?: Named[]
  contexts?: Named[]
  'current-context'?: string
  [key: string]: unknown
}

interface Wanted {
  path: string
  name: string
  cluster: { server: string; 'certificate-authority-data': string }
  user: { exec: { apiVersion: string; command: string; args: string[]; env: { name: string; value: string }[] } }
  context: { cluster: string; user: string }
}

export const contextName = (ctx: Context): string => `autolytiq-${ctx.envName}`

async function describeCluster(ctx: Context): Promise<{ endpoint?: string; ca?: string; arn?: string } | undefined> {
  const { DescribeClusterCommand } = await import('@aws-sdk/client-eks')
  try {
    const c = (await (await ctx.clients.aws.eks()).send(new DescribeClusterCommand({ name: infraNames(ctx).cluster }))).cluster
    return { endpoint: c?.endpoint, ca: c?.certificateAuthority?.data, arn: c?.arn }
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined
    throw err
  }
}

/** This installation's CLI entry point (bin/run.js), from dist/steps/aws/ or src/steps/aws/. */
export const CLI_ENTRY = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

/**
 * The kubeconfig user: an exec entry that runs autolytiq itself (`kube-token`, hidden), which
 * prints the EKS token `aws eks get-token` would — so a human's kubectl and the helm autolytiq
 * runs need no aws CLI. It runs this node and this installation's bin/run.js by absolute path
 * (kubectl's PATH may not hold autolytiq) with AUTOLYTIQ_ROOT (kubectl runs it from any folder).
 * autolytiq's own API calls do not run it: the kube client mints the same token in-process.
 */
export function tokenExec(ctx: Context): Wanted['user']['exec'] {
  return {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    command: process.execPath,
    args: [CLI_ENTRY, 'kube-token', '--env', ctx.envName],
    env: [{ name: 'AUTOLYTIQ_ROOT', value: ctx.root }, ...(ctx.env.awsProfile ? [{ name: 'AWS_PROFILE', value: ctx.env.awsProfile }] : [])],
  }
}

/** What `aws eks update-kubeconfig` would write, under our own names, with autolytiq's own token command. */
async function wanted(ctx: Context): Promise<Wanted> {
  const cluster = infraNames(ctx).cluster
  const c = await describeCluster(ctx)
  if (!c?.endpoint || !c.ca)
    throw new StepFailedError(
      `EKS cluster ${cluster} ${c ? 'has no endpoint yet' : 'does not exist'} in ${ctx.env.region}`,
      `wait for infra.status: \`autolytiq deploy --env ${ctx.envName} --from infra.status\``,
    )
  const name = contextName(ctx)
  return {
    path: ctx.env.kubeconfig ?? defaultKubeconfig(),
    name,
    cluster: { server: c.endpoint, 'certificate-authority-data': c.ca },
    user: { exec: tokenExec(ctx) },
    context: { cluster: name, user: name },
  }
}

function readKubeconfig(path: string): KubeconfigFile {
  if (!existsSync(path)) return {}
  try {
    return (parse(readFileSync(path, 'utf8')) as KubeconfigFile | null) ?? {}
  } catch (err) {
    throw new UserError(`kubeconfig ${path} is not valid YAML (${errorMessage(err).split('\n')[0]}); it was left untouched`, 'fix or move it, then re-run')
  }
}

function differences(file: KubeconfigFile, w: Wanted): string[] {
  const cluster = file.clusters?.find((e) => e.name === w.name)?.cluster as Wanted['cluster'] | undefined
  const user = file.users?.find((e) => e.name === w.name)?.user as Wanted['user'] | undefined
  const context = file.contexts?.find((e) => e.name === w.name)?.context as Wanted['context'] | undefined
  const out: string[] = []
  if (!context) return ['missing']
  if (context.cluster !== w.name || context.user !== w.name) out.push('context points elsewhere')
  if (cluster?.server !== w.cluster.server) out.push(`server is ${cluster?.server ?? 'missing'}`)
  if (cluster?.['certificate-authority-data'] !== w.cluster['certificate-authority-data']) out.push('cluster CA differs')
  const exec = user?.exec
  // env carries AWS_PROFILE: a changed awsProfile must reach the token command too. An old
  // `aws eks get-token` entry is drift: it fails with "spawn aws ENOENT" where the CLI is missing.
  if (
    JSON.stringify(exec?.args) !== JSON.stringify(w.user.exec.args) ||
    exec?.command !== w.user.exec.command ||
    JSON.stringify(exec?.env ?? []) !== JSON.stringify(w.user.exec.env)
  )
    out.push(exec?.command && /(^|\/)aws$/.test(exec.command) ? 'user runs `aws eks get-token` (needs the aws CLI)' : 'user exec differs')
  return out
}

function upsert(list: Named[] | undefined, name: string, key: string, value: unknown): Named[] {
  const mine = { name, [key]: value }
  const all = list ?? []
  return all.some((e) => e.name === name) ? all.map((e) => (e.name === name ? mine : e)) : [...all, mine]
}

/** Merges our three entries into the engineer's kubeconfig, keeping every other entry and their current context. */
export function mergeKubeconfig(file: KubeconfigFile, w: Wanted): KubeconfigFile {
  return {
    ...file,
    apiVersion: file.apiVersion ?? 'v1',
    kind: file.kind ?? 'Config',
    clusters: upsert(file.clusters, w.name, 'cluster', w.cluster),
    users: upsert(file.users, w.name, 'user', w.user),
    contexts: upsert(file.contexts, w.name, 'context', w.context),
    'current-context': file['current-context'] || w.name,
  }
}

/** The sandbox's cluster is the local control plane from runtime.json: prove that kubeconfig works. */
async function sandboxProbe(ctx: Context): Promise<{ server: string; version: string }> {
  const kc = await ctx.clients.kube.config()
  const lib = await ctx.clients.kube.lib()
  const v = await kc.makeApiClient(lib.VersionApi).getCode()
  return { server: kc.getCurrentCluster()?.server ?? '', version: v.gitVersion }
}

/** Plan 2.5: kubectl access to the cluster (update-kubeconfig), without clobbering other contexts. */
export const kubeConfig: Step<z.infer<typeof params>> = {
  id: 'kube.config',
  title: 'kubeconfig context for the cluster',
  description:
    'Plan 2.5: writes an autolytiq-<env> context (EKS endpoint and CA from DescribeCluster; user: an exec entry running this CLI (hidden kube-token command), the EKS token without the aws CLI) into the kubeconfig atomically, keeping all other contexts; the sandbox checks its own kubeconfig instead.',
  danger: 'mutating',
  params,
  async plan(ctx) {
    if (ctx.env.sandbox)
      return [`eks DescribeCluster ${infraNames(ctx).cluster}`, `GET /version with the sandbox kubeconfig ${ctx.env.kubeconfig ?? '(not set)'}`]
    const path = ctx.env.kubeconfig ?? defaultKubeconfig()
    return [
      `eks DescribeCluster ${infraNames(ctx).cluster}`,
      `merge cluster/user/context ${contextName(ctx)} into ${path} (other entries kept; user exec: ${[process.execPath, ...tokenExec(ctx).args].join(' ')})`,
    ]
  },
  async check(ctx) {
    if (ctx.env.sandbox) {
      const probe = await sandboxProbe(ctx)
      const eks = await describeCluster(ctx)
      return {
        status: 'done',
        detail: `sandbox kubeconfig reaches ${probe.server} (Kubernetes ${probe.version})`,
        outputs: { kubeconfig: ctx.env.kubeconfig, server: probe.server, eksEndpoint: eks?.endpoint },
      }
    }
    const w = await wanted(ctx)
    const diff = differences(readKubeconfig(w.path), w)
    if (diff.length === 0)
      return { status: 'done', detail: `${w.name} in ${w.path}`, outputs: { kubeconfig: w.path, context: w.name, eksEndpoint: w.cluster.server } }
    return diff[0] === 'missing' ? { status: 'todo', detail: `no ${w.name} context in ${w.path}` } : { status: 'drift', detail: diff.join('; ') }
  },
  async run(ctx) {
    if (ctx.env.sandbox) throw new StepFailedError('the sandbox kubeconfig does not work', 'restart the sandbox: `autolytiq sandbox up`')
    const w = await wanted(ctx)
    const merged = mergeKubeconfig(readKubeconfig(w.path), w)
    writeFileAtomic(w.path, stringify(merged), 0o600)
    ctx.log(`wrote context ${w.name} to ${w.path}`)
    return { kubeconfig: w.path, context: w.name, eksEndpoint: w.cluster.server }
  },
}
