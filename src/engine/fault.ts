import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { ClientRequest } from 'node:http'
import type { Exec } from '../clients/exec.js'
import type { Context } from './types.js'

/**
 * Fault injection for the kill matrix (test/e2e/kill-matrix.test.ts): with
 * AUTOLYTIQ_FAULT_KILL=<step id>[,<step id>...] the CLI SIGKILLs itself in the middle of the first
 * listed step it reaches:
 * - a step with work to do dies right after its first outside change lands (an AWS mutating call,
 *   a Kubernetes or other non-GET HTTP request, an external command that changes something), or,
 *   when its run() changes nothing outside, after run() returns;
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
      return await ctx.clients.exec(file, args, opts)
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
