import { hostname, userInfo } from 'node:os'
import { existsSync, openSync, closeSync, readFileSync, unlinkSync, writeSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { LockHeldError, UserError } from './errors.js'
import { writeFileAtomic } from './state.js'

export interface LockHolder {
  runId: string
  user: string
  host: string
  pid: number
  command: string
  startedAt: string
  heartbeatAt: string
}

/** A lease: the holder renews heartbeatAt; a holder silent for longer than this is presumed dead. */
export const LEASE_MS = 30_000
const HEARTBEAT_MS = 5_000

export function describeHolder(h: LockHolder): string {
  return `${h.user}@${h.host} (pid ${h.pid}, \`${h.command}\`, since ${h.startedAt}, last heartbeat ${h.heartbeatAt})`
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Why a holder is presumed dead, or undefined when it may still be alive. */
export function staleReason(h: LockHolder, now = Date.now()): string | undefined {
  if (h.host === hostname() && !pidAlive(h.pid)) return `process ${h.pid} no longer runs on ${h.host}`
  const age = now - Date.parse(h.heartbeatAt)
  if (age > LEASE_MS) return `no heartbeat for ${Math.round(age / 1000)}s (lease ${LEASE_MS / 1000}s)`
  return undefined
}

export interface EnvLock {
  /** Takes the lock or throws LockHeldError naming the holder. Starts the heartbeat. */
  acquire(command: string, runId: string): Promise<void>
  release(): Promise<void>
  holder(): Promise<LockHolder | undefined>
  /** Removes a dead holder's lock; refuses a live one unless forced. */
  forceUnlock(force: boolean): Promise<LockHolder | undefined>
  /** Set when the lease was lost (another process took it): the run must stop. */
  readonly lost: boolean
}

export function newHolder(command: string, runId: string): LockHolder {
  const now = new Date().toISOString()
  return { runId, user: userInfo().username, host: hostname(), pid: process.pid, command, startedAt: now, heartbeatAt: now }
}

export function lockHeldError(env: string, h: LockHolder): LockHeldError {
  const stale = staleReason(h)
  return new LockHeldError(
    `environment "${env}" is locked by ${describeHolder(h)}`,
    stale
      ? `the holder looks dead (${stale}); if you are sure, run \`autolytiq state unlock --env ${env}\``
      : `wait for that run to finish, or ask ${h.user} — it is still alive`,
  )
}

/** Lock file next to the local state; creation with O_EXCL makes acquisition atomic. */
export class LocalLock implements EnvLock {
  private mine?: LockHolder
  private timer?: NodeJS.Timeout
  lost = false

  constructor(
    private readonly path: string,
    private readonly env: string,
  ) {}

  async holder(): Promise<LockHolder | undefined> {
    if (!existsSync(this.path)) return undefined
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as LockHolder
    } catch {
      // A lock file cut short by a crash during creation: treat as held by nobody alive.
      return {
        runId: 'unknown',
        user: 'unknown',
        host: 'unknown',
        pid: -1,
        command: 'unknown',
        startedAt: new Date(0).toISOString(),
        heartbeatAt: new Date(0).toISOString(),
      }
    }
  }

  async acquire(command: string, runId: string): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    const h = newHolder(command, runId)
    let fd: number
    try {
      fd = openSync(this.path, 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const current = await this.holder()
      throw lockHeldError(this.env, current!)
    }
    writeSync(fd, JSON.stringify(h))
    closeSync(fd)
    this.mine = h
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS)
    this.timer.unref()
  }

  private heartbeat(): void {
    if (!this.mine) return
    const current = existsSync(this.path) ? this.readQuiet() : undefined
    if (current?.runId !== this.mine.runId) {
      this.lost = true
      clearInterval(this.timer)
      return
    }
    this.mine.heartbeatAt = new Date().toISOString()
    writeFileAtomic(this.path, JSON.stringify(this.mine))
  }

  private readQuiet(): LockHolder | undefined {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as LockHolder
    } catch {
      return undefined
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer)
    if (this.mine && this.readQuiet()?.runId === this.mine.runId) unlinkSync(this.path)
    this.mine = undefined
  }

  async forceUnlock(force: boolean): Promise<LockHolder | undefined> {
    const h = await this.holder()
    if (!h) return undefined
    const stale = staleReason(h)
    if (!stale && !force)
      throw new UserError(
        `the lock of "${this.env}" is held by a live run: ${describeHolder(h)}`,
        'wait for it to finish; --force takes the lock anyway (only if you know that run is gone)',
      )
    unlinkSync(this.path)
    return h
  }
}
