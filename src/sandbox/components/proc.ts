import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { onExit } from './exit-hooks.js'

export interface ProcOptions {
  /** Short name used in the log file name and in error messages. */
  name: string
  command: string
  args: string[]
  /** Directory for `<name>.log` (stdout and stderr together). */
  logDir: string
  cwd?: string
  /** Merged over process.env. */
  env?: NodeJS.ProcessEnv
  /** Run as another user (only when we are root), e.g. postgres refuses to run as root. */
  uid?: number
  gid?: number
  /** Signal for a graceful stop (default SIGTERM); postgres wants SIGINT for a fast shutdown. */
  stopSignal?: NodeJS.Signals
  /** Grace period before SIGKILL (default 10 s). */
  stopTimeoutMs?: number
  /** Open a Node IPC channel (the child is a Node program): Proc.send() then delivers messages to it. */
  ipc?: boolean
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error?: Error
}

export interface Proc {
  readonly name: string
  readonly pid: number | undefined
  readonly logPath: string
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>
  /** undefined while the process runs. */
  exitInfo(): ExitInfo | undefined
  /** The last lines of the log, for error messages. */
  logTail(lines?: number): string
  /** SIGTERM (or stopSignal) to the whole process group, SIGKILL after the grace period. */
  stop(): Promise<void>
  /** A message over the IPC channel (`ipc: true`); false when the child is gone or has none. */
  send(message: unknown): boolean
}

// Every process group we started and have not reaped yet. Killed synchronously at exit (see
// exit-hooks.ts) so nothing outlives the test run, even when a test throws or vitest is
// interrupted.
const liveGroups = new Map<number, string>()
let hooked = false

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone
  }
}

/** Every component process started by this module and not stopped yet (the sandbox records them). */
export function liveProcesses(): { pid: number; name: string }[] {
  return [...liveGroups].map(([pid, name]) => ({ pid, name }))
}

/** Kill every process group started by this module (synchronous; used by the exit hooks). */
export function killAllProcesses(): void {
  for (const pid of liveGroups.keys()) killGroup(pid, 'SIGKILL')
  liveGroups.clear()
}

export function readLogTail(path: string, lines = 40): string {
  try {
    const text = readFileSync(path, 'utf8')
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd()
  } catch {
    return '(no log)'
  }
}

// `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill a component when the process
// that spawned it dies, even by SIGKILL, where no exit hook can run. Without setpriv the exit
// hooks above are the only safety net.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

/**
 * Spawns a long-running component in its own process group (detached), logging to a file.
 * Its own group lets stop() take down helpers it forks (runuser, shims, workers) too.
 */
export function spawnProcess(opts: ProcOptions): Proc {
  if (!hooked) {
    hooked = true
    onExit(killAllProcesses)
  }
  const logPath = join(opts.logDir, `${opts.name}.log`)
  const fd = openSync(logPath, 'a')
  writeSync(fd, `### ${new Date().toISOString()} ${opts.command} ${opts.args.join(' ')}\n`)
  const [command, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.command, ...opts.args]] : [opts.command, opts.args]
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    detached: true,
    uid: opts.uid,
    gid: opts.gid,
  })
  closeSync(fd) // the child holds its own copy
  const pid = child.pid
  if (pid !== undefined) liveGroups.set(pid, opts.name)

  let info: ExitInfo | undefined
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      info ??= { code: null, signal: null, error }
      resolve(info)
    })
    child.once('exit', (code, signal) => {
      info ??= { code, signal }
      resolve(info)
    })
  })
  // A component must not keep the test process alive by itself.
  child.unref()
  child.channel?.unref()

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      if (pid === undefined) return
      if (!info) {
        killGroup(pid, opts.stopSignal ?? 'SIGTERM')
        const timeout = opts.stopTimeoutMs ?? 10_000
        let timer: NodeJS.Timeout | undefined
        const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeout)))])
        clearTimeout(timer)
        if (timedOut) {
          killGroup(pid, 'SIGKILL')
          await exited
        }
      }
      // The leader is gone; reap anything it left behind in its group.
      killGroup(pid, 'SIGKILL')
      liveGroups.delete(pid)
    })()
    return stopping
  }

  return {
    name: opts.name,
    pid,
    logPath,
    exited,
    exitInfo: () => info,
    logTail: (lines = 40) => readLogTail(logPath, lines),
    stop,
    send: (message) => {
      if (!child.connected || info) return false
      child.send(message as never, (err) => void err) // a child that just died: its exit tells the rest
      return true
    },
  }
}

export function describeExit(info: ExitInfo): string {
  if (info.error) return `failed to start: ${info.error.message}`
  return info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`
}
