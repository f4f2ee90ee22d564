import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadCatalog, type Catalog } from '../config/catalog.js'
import { loadConfig, resolveEnvironmentName, type Environment } from '../config/environments.js'
import { findProjectRoot } from '../config/files.js'
import { AwsClients, type AwsSettings } from '../clients/aws.js'
import { KubeClients } from '../clients/kube.js'
import { HttpClient } from '../clients/http.js'
import { exec } from '../clients/exec.js'
import { UserError } from './errors.js'
import { LocalAuditLog, type AuditLog } from './audit.js'
import { LocalLock, type EnvLock } from './lock.js'
import { TerminalPrompter, type Prompter } from './prompt.js'
import { LocalStateBackend, StateStore, type StateBackend } from './state.js'
import { S3StateBackend } from './state-s3.js'
import { DynamoLock } from './lock-dynamo.js'
import { registerSecretsFromEnv } from './redact.js'
import type { Clients, Context } from './types.js'

export interface ContextOptions {
  env?: string
  dryRun?: boolean
  yes?: boolean
  prompter?: Prompter
  log?: (m: string) => void
}

export interface Built {
  ctx: Context
  lock: EnvLock
}

/** Everything autolytiq writes locally: state/, work/<env>/, sandbox/. AUTOLYTIQ_HOME moves it (tests). */
export function autolytiqHome(root: string): string {
  return process.env.AUTOLYTIQ_HOME ? resolve(process.env.AUTOLYTIQ_HOME) : join(root, '.autolytiq')
}

export function stateDir(root: string): string {
  return join(autolytiqHome(root), 'state')
}

/** Generated, non-secret working files of one environment (tfvars, plans, rendered manifests). */
export function workDir(root: string, env: string): string {
  return join(autolytiqHome(root), 'work', env)
}

export function sandboxRuntimePath(root: string): string {
  return join(autolytiqHome(root), 'sandbox', 'runtime.json')
}

/** The sandbox's live addresses (written by `sandbox up`) fill in a sandbox environment. */
export function applySandboxRuntime(root: string, env: Environment): Environment {
  if (!env.sandbox) return env
  const path = sandboxRuntimePath(root)
  if (!existsSync(path)) throw new UserError('the sandbox is not running (no runtime file)', 'start it with `autolytiq sandbox up`')
  let rt: Partial<Environment>
  try {
    rt = JSON.parse(readFileSync(path, 'utf8')) as typeof rt
  } catch {
    throw new UserError(`sandbox runtime file ${path} is not valid JSON`, 'restart it: `autolytiq sandbox down && autolytiq sandbox up`')
  }
  const pick = [
    'awsEndpoint',
    'kubeconfig',
    'apiUrl',
    'apiHttpUrl',
    'dnsServers',
    'caFile',
    'prometheusUrl',
    'alertmanagerUrl',
    'grafanaUrl',
    'imagesWaitSeconds',
  ] as const
  const merged: Environment = { ...env }
  for (const k of pick) if (rt[k] !== undefined) (merged as Record<string, unknown>)[k] = rt[k]
  // Terraform variables only the running sandbox knows (moto's endpoint, the ports of its servers).
  if (rt.terraformVars) merged.terraformVars = { ...env.terraformVars, ...rt.terraformVars }
  return merged
}

export interface ProjectInfo {
  root: string
  envName: string
  env: Environment
  catalog: Catalog
}

/** Config + catalog + environment, validated; no outside system touched. */
export function loadProject(envFlag: string | undefined): ProjectInfo {
  registerSecretsFromEnv()
  const root = findProjectRoot()
  const config = loadConfig(root)
  const envName = resolveEnvironmentName(envFlag, config)
  const env = applySandboxRuntime(root, config.environments[envName]!)
  let catalog: Catalog | undefined
  return {
    root,
    envName,
    env,
    // Parsed on first use: `status` and `log` never need the catalog, and start-up time matters.
    get catalog() {
      return (catalog ??= loadCatalog(root))
    },
  }
}

export function awsSettings(env: Environment): AwsSettings {
  const sandboxCreds = env.awsEndpoint
    ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' }
    : undefined
  return { region: env.region, endpoint: env.awsEndpoint, profile: env.awsProfile, credentials: sandboxCreds }
}

export function buildClients(info: ProjectInfo): Clients {
  const { env, envName } = info
  const aws = new AwsClients(awsSettings(env))
  return {
    aws,
    kube: new KubeClients({
      kubeconfig: env.kubeconfig ?? process.env.KUBECONFIG,
      context: env.sandbox ? undefined : `autolytiq-${envName}`,
      // the EKS token in-process, signed like every other AWS call (no aws CLI)
      eksToken: async () => (await import('../clients/eks-token.js')).eksToken(aws, env.eksCluster),
      eks: { whoami: () => eksPrincipal(aws), cluster: env.eksCluster, envName },
      envName,
    }),
    http: new HttpClient({ dnsServers: env.dnsServers, caFile: env.caFile }),
    exec,
  }
}

/** The IAM principal EKS maps the caller to (an assumed role's session -> the role). */
async function eksPrincipal(aws: AwsClients): Promise<string> {
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
  const { principalArn } = await import('../clients/eks-token.js')
  return principalArn((await (await aws.sts()).send(new GetCallerIdentityCommand({}))).Arn ?? '(unknown)')
}

export function defaultKubeconfig(): string {
  return process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config')
}

/**
 * Where an environment's state and lock live: local files, or (stateBackend: s3) the shared
 * bucket with a DynamoDB lock. AUTOLYTIQ_STATE_BACKEND=local forces local files, which is how
 * the shared backend itself is bootstrapped. Its AWS clients are separate from ctx.clients so
 * state bookkeeping never counts as a step's AWS call.
 */
export function stateStorage(info: ProjectInfo): { backend: StateBackend; lock: EnvLock } {
  const dir = stateDir(info.root)
  const sb = info.env.stateBackend
  if (sb.type === 's3' && process.env.AUTOLYTIQ_STATE_BACKEND !== 'local') {
    const aws = new AwsClients(awsSettings(info.env))
    const prefix = `${sb.prefix}/${info.envName}`
    return {
      backend: new S3StateBackend(aws, sb.bucket, `${prefix}/state.json`, info.envName),
      lock: new DynamoLock(aws, sb.lockTable, `${prefix}/lock`, info.envName),
    }
  }
  return { backend: new LocalStateBackend(join(dir, `${info.envName}.json`)), lock: new LocalLock(join(dir, `${info.envName}.lock`), info.envName) }
}

/** The one factory that wires a command's context: config, clients, state, lock, audit, prompts. */
export async function buildContext(opts: ContextOptions): Promise<Built> {
  const info = loadProject(opts.env)
  const dir = stateDir(info.root)
  const storage = stateStorage(info)
  const state = await StateStore.open(storage.backend, info.envName)
  const audit: AuditLog = new LocalAuditLog(join(dir, `${info.envName}.audit.jsonl`))
  const lock = storage.lock
  const yes = Boolean(opts.yes)
  const ctx: Context = {
    root: info.root,
    envName: info.envName,
    env: info.env,
    catalog: info.catalog,
    clients: buildClients(info),
    state,
    audit,
    prompt: opts.prompter ?? new TerminalPrompter(yes),
    runId: `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`,
    signal: new AbortController().signal,
    dryRun: Boolean(opts.dryRun),
    yes,
    log: opts.log ?? (() => {}),
    warn: () => {},
  }
  return { ctx, lock }
}
