import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { ClientRequest } from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import type { Exec, ExecOptions } from '../clients/exec.js'
import type { Context } from './types.js'

/**
 * Fault injection for the kill matrix (test/e2e/kill-matrix.test.ts): with
 * AUTOLYTIQ_FAULT_KILL=<step id>[,<step id>...] the CLI SIGKILLs itself in the middle of the first
 * listed step it reaches:
 * - a step with work to do dies right after its first outside change lands (an AWS mutating call,
 *   a Kubernetes or other non-GET HTTP request, an external command that changes something), or,
 *   when its run() changes nothing outside, after run() returns; inside `terraform apply`, once
 *   terraform has persisted partial state (terraform and its children are SIGKILLed with the CLI);
 * - a step check() finds done or skipped dies right after check() answers.
 * Either way before the step is recorded: the state file says `running`, with the step's work
 * partly or wholly done, which a re-run must finish without doing anything twice.
 *
 * Honoured only for environments with a local AWS endpoint (the sandbox, tests), so a stray
 * variable in an engineer's shell can never crash a run against a real account.
 */
export interface KillFault {
  /** check() settled the step (done or skip): kill before that is recorded. */
  afterCheck(outcome: string): void
  /** Arms the outside-change triggers for run(); returns the clients run() gets (exec wrapped). */
  beforeRun(): Context['clients']
  /** run() returned without any outside change: kill before the step is recorded done. */
  afterRun(): void
  disarm(): void
}

export const FAULT_ENV = 'AUTOLYTIQ_FAULT_KILL'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Subcommands that change nothing outside this machine: killing after them is not mid-change. */
const READ_ONLY_COMMANDS: Record<string, Set<string>> = {
  kubectl: new Set(['get', 'kustomize', 'version', 'diff', 'auth', 'config']),
  helm: new Set(['history', 'status', 'list', 'template', 'version', 'get', 'show', 'lint']),
  terraform: new Set(['version', 'validate', 'fmt', 'show', 'output', 'plan']),
  git: new Set(['rev-parse', 'status', 'log', 'describe', 'ls-remote', 'show']),
}

/** The S3 version of the Terraform state object now (undefined: none yet). */
async function stateObjectVersion(ctx: Context): Promise<string | undefined> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3')
  const { bucket, key } = ctx.env.terraformState
  try {
    return (await (await ctx.clients.aws.s3()).send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).VersionId
  } catch {
    return undefined
  }
}

/** The pid and all its descendants (Linux /proc), parents first. */
function processTree(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`))
        for (const c of readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) out.push(Number(c))
    } catch {
      // gone already
    }
  }
  return out
}

/**
 * The kill point inside `terraform apply`: after a resource completes, once terraform has persisted
 * partial state (a new S3 version of the state object; terraform persists at most every 20 s, right
 * after a resource completes), SIGKILL terraform and its children (provider plugins, provisioners),
 * then the CLI. Terraform holds its state lock (`<key>.tflock`) then: the lock stays behind, and the
 * saved plan no longer matches the state. An apply that persists nothing before it ends is killed
 * after it returns, as any other command.
 */
async function duringApply(ctx: Context, kill: (where: string) => never, opts: ExecOptions = {}): Promise<ExecOptions> {
  const before = await stateObjectVersion(ctx)
  let terraformPid: number | undefined
  let watching = false
  const watchPersist = async (): Promise<void> => {
    if (watching) return
    watching = true
    for (let i = 0; i < 30; i++) {
      const now = await stateObjectVersion(ctx)
      if (now && now !== before && terraformPid !== undefined) {
        for (const pid of processTree(terraformPid)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // exited on its own
          }
        }
        kill(`during \`terraform apply\` (pid ${terraformPid}), after it persisted partial state (state version ${now}) while holding its state lock`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    watching = false
  }
  return {
    ...opts,
    onSpawn: (pid) => {
      terraformPid = pid
      opts.onSpawn?.(pid)
    },
    onLine: (line) => {
      opts.onLine?.(line)
      if (/: (Creation|Modifications|Destruction) complete after/.test(line)) void watchPersist()
    },
  }
}

export function armKillFault(ctx: Context, stepId: string): KillFault | undefined {
  if (!ctx.env.awsEndpoint || !(process.env[FAULT_ENV] ?? '').split(',').includes(stepId)) return undefined
  const awsHost = new URL(ctx.env.awsEndpoint).host
  const aws = ctx.clients.aws
  let awsCallsBefore = aws.calls.length
  const kill = (where: string): never => {
    // stderr is a pipe or file for the tests: written synchronously before the process dies
    process.stderr.write(`\n[fault injection] SIGKILL in ${stepId} ${where}\n`)
    process.kill(process.pid, 'SIGKILL')
    throw new Error('unreachable: SIGKILL')
  }
  const onResponse = (message: unknown): void => {
    const req = (message as { request: ClientRequest }).request
    if (req.getHeader('host')?.toString() === awsHost) {
      // every AWS call is a POST; what it changes is in the operation name the client recorded
      const mutating = aws.calls.slice(awsCallsBefore).find((c) => c.mutating)
      if (mutating) kill(`after AWS ${mutating.service}.${mutating.operation}`)
    } else if (!READS.has(req.method) && !/[?&]dryRun=/.test(req.path)) kill(`after HTTP ${req.method} ${req.host}${req.path.split('?')[0]}`)
  }
  const exec: Exec = async (file, args, opts) => {
    const tool = file.split('/').pop() ?? file
    const sub = args.find((a) => !a.startsWith('-')) ?? ''
    try {
      return await ctx.clients.exec(file, args, tool === 'terraform' && sub === 'apply' ? await duringApply(ctx, kill, opts) : opts)
    } finally {
      if (!READ_ONLY_COMMANDS[tool]?.has(sub)) kill(`after \`${tool} ${sub}\``)
    }
  }
  // Only run() is watched: check() is read-only, though some checks send non-GET requests
  // (a server-side dry-run apply is a PATCH; it does not count as a change in run() either).
  let watching = false
  return {
    afterCheck: (outcome) => kill(`after check() found it ${outcome}, before that was recorded`),
    beforeRun: () => {
      awsCallsBefore = aws.calls.length
      subscribe('http.client.response.finish', onResponse)
      watching = true
      return { ...ctx.clients, exec }
    },
    afterRun: () => kill('after run(), before it was recorded done'),
    disarm: () => {
      if (watching) unsubscribe('http.client.response.finish', onResponse)
      watching = false
    },
  }
}
