import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { Resolver } from 'node:dns/promises'
import { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StepFailedError, UserError } from '../engine/errors.js'
import { ensureK8sBinaries } from './components/kube.js'
import { isAlive, readRuntime, readSupervisorPid, removeRuntimeFiles, supervisorLogPath, supervisorPidPath, type SandboxRuntime } from './runtime.js'
import { missingTools } from './tools.js'

const SUPERVISOR = join(dirname(fileURLToPath(import.meta.url)), 'supervisor.js')

export interface UpOptions {
  /** The engineer's own cluster (e.g. kind) instead of the built-in control plane. */
  kubeconfig?: string
  timeoutMs?: number
  log(message: string): void
}

export interface UpResult {
  status: 'started' | 'already-running'
  seconds: number
  runtime: SandboxRuntime
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Follows the supervisor's log from `offset`, handing complete lines to `onLine`. */
function logFollower(path: string, onLine: (line: string) => void): () => void {
  let offset = 0
  let partial = ''
  return () => {
    if (!existsSync(path)) return
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(64 * 1024)
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset)
        if (n <= 0) break
        offset += n
        const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        lines.filter(Boolean).forEach(onLine)
      }
    } finally {
      closeSync(fd)
    }
  }
}

/**
 * `sandbox up`: starts the supervisor (detached, so the sandbox outlives this command) and waits,
 * relaying its progress, until it has written runtime.json. Idempotent: a running sandbox is
 * reported, not restarted; a dead one's leftovers are cleaned up first.
 */
export async function sandboxUp(root: string, o: UpOptions): Promise<UpResult> {
  const t0 = Date.now()
  const seconds = (): number => Math.round((Date.now() - t0) / 100) / 10
  const running = readRuntime(root)
  if (running && isAlive(running.sandbox.supervisorPid)) return { status: 'already-running', seconds: seconds(), runtime: running }

  let pid = readSupervisorPid(root)
  if (!isAlive(pid)) {
    if (running || pid) o.log('cleaning up after a sandbox that is no longer running')
    await stopLeftovers(running)
    removeRuntimeFiles(root)
    pid = undefined
  }

  if (pid === undefined) {
    const missing = missingTools()
    if (missing.length)
      throw new UserError(
        `the sandbox needs ${missing.join(', ')}, not found on this machine`,
        'install them with `bash scripts/install-deps.sh` (or `npm run sandbox`)',
      )
    if (o.kubeconfig && !existsSync(o.kubeconfig))
      throw new UserError(`kubeconfig ${o.kubeconfig} does not exist`, 'pass the path of your cluster’s kubeconfig')
    if (!existsSync(SUPERVISOR)) throw new UserError(`${SUPERVISOR} is missing`, 'build the CLI first: `npm run build`')
    if (!o.kubeconfig) {
      o.log('Kubernetes control plane binaries: checking the cache (the first build takes 10-25 minutes)')
      await ensureK8sBinaries()
    }
    pid = spawnSupervisor(root, o.kubeconfig)
    o.log(`supervisor started (pid ${pid}); log: ${supervisorLogPath(root)}`)
  } else {
    o.log(`a sandbox is already starting (supervisor pid ${pid}); waiting for it`)
  }

  const follow = logFollower(supervisorLogPath(root), (line) => o.log(line))
  const deadline = Date.now() + (o.timeoutMs ?? 300_000)
  for (;;) {
    follow()
    const rt = readRuntime(root)
    if (rt && rt.sandbox.supervisorPid === pid) return { status: 'started', seconds: seconds(), runtime: rt }
    if (!isAlive(pid)) {
      removeRuntimeFiles(root)
      throw new StepFailedError('the sandbox failed to start (see the lines above)', `full log: ${supervisorLogPath(root)}`)
    }
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGTERM')
      throw new StepFailedError(
        `the sandbox did not become ready within ${Math.round((o.timeoutMs ?? 300_000) / 1000)} s; stopped it`,
        `see ${supervisorLogPath(root)}`,
      )
    }
    await sleep(250)
  }
}

function spawnSupervisor(root: string, kubeconfig: string | undefined): number {
  // The pid file is created exclusively: two `sandbox up` at once cannot both start one.
  mkdirSync(dirname(supervisorPidPath(root)), { recursive: true, mode: 0o700 })
  let lock: number
  try {
    lock = openSync(supervisorPidPath(root), 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    throw new UserError('another `autolytiq sandbox up` is starting the sandbox right now', 'wait for it, or check `autolytiq sandbox status`')
  }
  const logFd = openSync(supervisorLogPath(root), 'w', 0o600)
  const child = spawn(process.execPath, [SUPERVISOR, '--root', root, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    cwd: root,
    env: process.env,
  })
  closeSync(logFd)
  child.unref()
  if (child.pid === undefined) throw new StepFailedError('could not start the sandbox supervisor', `see ${supervisorLogPath(root)}`)
  writeSync(lock, String(child.pid))
  closeSync(lock)
  return child.pid
}

/** Kills recorded component processes that survived their supervisor (each is its own group). */
async function stopLeftovers(rt: SandboxRuntime | undefined): Promise<number> {
  const alive = (rt?.sandbox.processes ?? []).filter((p) => isAlive(p.pid))
  for (const p of alive) {
    try {
      process.kill(-p.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000
  while (alive.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(100)
  return alive.length
}

export interface DownResult {
  status: 'stopped' | 'not-running'
  seconds: number
  /** Processes and ports still there afterwards (empty when all is well). */
  leftovers: string[]
}

/** `sandbox down`: SIGTERM to the supervisor, which stops every component; then proof that nothing is left. */
export async function sandboxDown(root: string, o: { timeoutMs?: number; log(m: string): void }): Promise<DownResult> {
  const t0 = Date.now()
  const rt = readRuntime(root)
  const pid = rt?.sandbox.supervisorPid ?? readSupervisorPid(root)
  let status: DownResult['status'] = 'not-running'
  if (isAlive(pid)) {
    status = 'stopped'
    o.log(`stopping the sandbox (supervisor pid ${pid})`)
    process.kill(pid!, 'SIGTERM')
    const deadline = Date.now() + (o.timeoutMs ?? 60_000)
    while (isAlive(pid) && Date.now() < deadline) await sleep(100)
    if (isAlive(pid)) {
      o.log('the supervisor did not stop in time: killing it')
      process.kill(pid!, 'SIGKILL')
      while (isAlive(pid)) await sleep(100)
    }
  }
  const killed = await stopLeftovers(rt)
  if (killed) o.log(`killed ${killed} process(es) left behind`)
  removeRuntimeFiles(root)
  const leftovers = [
    ...(rt?.sandbox.processes ?? []).filter((p) => isAlive(p.pid)).map((p) => `${p.name} (pid ${p.pid}) still running`),
    ...(
      await Promise.all(
        (rt?.sandbox.components ?? [])
          .filter((c) => c.port && c.protocol !== 'udp')
          .map(async (c) => ((await tcpAnswers(c.port!)) ? `${c.name} port ${c.port} still open` : '')),
      )
    ).filter(Boolean),
  ]
  return { status, seconds: Math.round((Date.now() - t0) / 100) / 10, leftovers }
}

function tcpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket()
    const done = (ok: boolean): void => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
    s.connect(port, '127.0.0.1')
  })
}

export interface ComponentStatus {
  name: string
  pid?: number
  port?: number
  protocol: 'tcp' | 'udp'
  /** Its process runs (or, for listeners inside the supervisor, the supervisor does). */
  running: boolean
  /** Its port accepts a connection (TCP) or answers a DNS query (UDP). */
  answering: boolean
}

export interface StatusResult {
  state: 'running' | 'degraded' | 'stopped' | 'starting'
  supervisorPid?: number
  startedAt?: string
  kube?: 'builtin' | 'external'
  endpoints?: Pick<
    SandboxRuntime,
    'apiUrl' | 'apiHttpUrl' | 'awsEndpoint' | 'kubeconfig' | 'dnsServers' | 'caFile' | 'prometheusUrl' | 'alertmanagerUrl' | 'grafanaUrl'
  >
  components: ComponentStatus[]
  processes: { pid: number; name: string; running: boolean }[]
}

/** `sandbox status`: each component's process and port, probed now. Read-only. */
export async function sandboxStatus(root: string): Promise<StatusResult> {
  const rt = readRuntime(root)
  if (!rt) {
    const pid = readSupervisorPid(root)
    return { state: isAlive(pid) ? 'starting' : 'stopped', supervisorPid: isAlive(pid) ? pid : undefined, components: [], processes: [] }
  }
  const supervisorAlive = isAlive(rt.sandbox.supervisorPid)
  const components = await Promise.all(
    rt.sandbox.components.map(async (c): Promise<ComponentStatus> => {
      const protocol = c.protocol ?? 'tcp'
      const running = c.pid ? isAlive(c.pid) : supervisorAlive
      const answering = c.port ? (protocol === 'udp' ? await dnsAnswers(c.port, rt.sandbox.albHostname) : await tcpAnswers(c.port)) : running
      return { name: c.name, pid: c.pid, port: c.port, protocol, running, answering }
    }),
  )
  const processes = rt.sandbox.processes.map((p) => ({ ...p, running: isAlive(p.pid) }))
  const healthy = supervisorAlive && components.every((c) => c.running && c.answering) && processes.every((p) => p.running)
  const { apiUrl, apiHttpUrl, awsEndpoint, kubeconfig, dnsServers, caFile, prometheusUrl, alertmanagerUrl, grafanaUrl } = rt
  return {
    state: healthy ? 'running' : 'degraded',
    supervisorPid: rt.sandbox.supervisorPid,
    startedAt: rt.sandbox.startedAt,
    kube: rt.sandbox.kube,
    endpoints: { apiUrl, apiHttpUrl, awsEndpoint, kubeconfig, dnsServers, caFile, prometheusUrl, alertmanagerUrl, grafanaUrl },
    components,
    processes,
  }
}

async function dnsAnswers(port: number, name: string): Promise<boolean> {
  const r = new Resolver({ timeout: 1000, tries: 1 })
  r.setServers([`127.0.0.1:${port}`])
  try {
    return (await r.resolve4(name)).length > 0
  } catch {
    return false
  }
}
