import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Options } from 'execa'
import { ExternalError, UserError } from '../engine/errors.js'
import { redact } from '../engine/redact.js'

export interface ExecOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
  signal?: AbortSignal
  /** Exit codes that are answers, not failures (terraform plan -detailed-exitcode returns 2). */
  okExitCodes?: number[]
  /** Called with each line of output as it arrives (progress for long commands). */
  onLine?: (line: string) => void
  /** Called with the child's pid once it runs (terraform apply records it: a lock it leaves behind can be proved dead). */
  onSpawn?: (pid: number) => void
}

export interface ExecResult {
  stdout: string
  stderr: string
  exitCode: number
  durationMs: number
}

export type Exec = (file: string, args: string[], opts?: ExecOptions) => Promise<ExecResult>

/** How to install a missing tool: shown instead of a stack trace. */
const INSTALL_HINT: Record<string, string> = {
  terraform: 'install terraform >= 1.5 (or OpenTofu) and put it on PATH',
  kubectl: 'install kubectl and put it on PATH',
  helm: 'install helm 3+ and put it on PATH, or run `bash scripts/install-deps.sh` (it puts one in ~/.cache/autolytiq/bin)',
  git: 'install git',
  docker: 'install Docker, or let CI build the images (`images: { source: ci }` for the environment in autolytiq.yaml)',
  gh: 'install the GitHub CLI and run `gh auth login`',
}

/** Where scripts/install-deps.sh puts the tools it installs itself (helm, actionlint). */
export function toolCacheBin(): string {
  return join(process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq'), 'bin')
}

/**
 * The directories searched for a tool: the caller's PATH first (an engineer's own helm wins),
 * then the cache the project's install script fills, so `npm run sandbox` followed by any
 * documented command works without anyone exporting PATH.
 */
export function toolSearchPath(path = process.env.PATH ?? ''): string {
  const cache = toolCacheBin()
  return path.split(delimiter).includes(cache) ? path : [path, cache].filter(Boolean).join(delimiter)
}

/**
 * The one wrapper around subprocesses (terraform, kubectl, helm, git, docker, gh): timeouts,
 * cancellation that lets the child stop gracefully (SIGINT first: terraform and helm release
 * their locks), non-zero exits as errors naming the command, and secrets redacted everywhere.
 */
export const exec: Exec = async (file, args, opts = {}) => {
  const started = Date.now()
  const command = redact([file, ...args].join(' '))
  const options: Options = {
    cwd: opts.cwd,
    // PATH decides where the child's binary is looked up (Node uses options.env.PATH for that).
    env: { ...opts.env, PATH: toolSearchPath(opts.env?.PATH ?? process.env.PATH) },
    input: opts.input,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    killSignal: 'SIGINT',
    forceKillAfterDelay: 10_000,
    reject: false,
    all: false,
    stripFinalNewline: true,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  }
  // Loaded on first use: execa costs ~150 ms of start-up that `status` or `log` never need.
  const { execa } = await import('execa')
  const child = execa(file, args, options)
  if (opts.onSpawn && child.pid !== undefined) opts.onSpawn(child.pid)
  if (opts.onLine) {
    const onData = (buf: Buffer): void => {
      for (const line of buf.toString().split('\n')) if (line.trim()) opts.onLine!(redact(line))
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  }
  const r = await child
  const durationMs = Date.now() - started
  const err = r as unknown as { code?: string; timedOut?: boolean; isCanceled?: boolean }
  if (err.code === 'ENOENT') throw new UserError(`${file} is not installed (not found on PATH)`, INSTALL_HINT[file] ?? `install ${file}`)
  const stdout = String(r.stdout ?? '')
  const stderr = String(r.stderr ?? '')
  if (err.timedOut) throw new ExternalError(`\`${command}\` timed out after ${opts.timeoutMs} ms`, command, redact(tail(stderr || stdout)), true)
  if (err.isCanceled) throw new ExternalError(`\`${command}\` was cancelled`, command, redact(tail(stderr)))
  const exitCode = r.exitCode ?? -1
  if (exitCode !== 0 && !(opts.okExitCodes ?? []).includes(exitCode)) {
    const said = tail(stderr || stdout)
    throw new ExternalError(`\`${command}\` exited with code ${exitCode}${said ? `:\n${redact(said)}` : ''}`, command, redact(said))
  }
  return { stdout, stderr, exitCode, durationMs }
}

function tail(text: string, lines = 15): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

/** Resolves a tool on PATH without running it. */
export async function which(file: string): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises')
  for (const dir of toolSearchPath().split(delimiter)) {
    const p = join(dir, file)
    try {
      await access(p, constants.X_OK)
      return p
    } catch {
      // next
    }
  }
  return undefined
}
