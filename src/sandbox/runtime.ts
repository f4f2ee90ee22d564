import { existsSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { sandboxRuntimePath } from '../engine/context.js'
import { writeFileAtomic } from '../engine/state.js'

/** One thing the sandbox runs: a child process, or a listener inside the supervisor. */
export interface SandboxComponent {
  name: string
  /** Child process id; absent for listeners inside the supervisor (gateway, DNS, controllers). */
  pid?: number
  port?: number
  protocol?: 'tcp' | 'udp'
  url?: string
}

/**
 * `<AUTOLYTIQ_HOME>/sandbox/runtime.json`: the live addresses applySandboxRuntime() merges into
 * the `sandbox` environment (top level), and what `sandbox status|down` need (under `sandbox`).
 * Never holds a password: those live only in moto's Secrets Manager.
 */
export interface SandboxRuntime {
  awsEndpoint: string
  kubeconfig: string
  apiUrl: string
  apiHttpUrl: string
  dnsServers: string[]
  caFile: string
  prometheusUrl: string
  alertmanagerUrl: string
  grafanaUrl: string
  /** The sandbox's CI publisher pushes the release's images shortly after a deploy starts. */
  imagesWaitSeconds: number
  /** Terraform variables only the running sandbox knows: moto's endpoint, the ports of its PostgreSQL and Redis. */
  terraformVars: { aws_endpoint: string; db_port: number; redis_port: number }
  sandbox: {
    version: 1
    supervisorPid: number
    startedAt: string
    readyAt: string
    /** builtin: the control plane and node simulator started here; external: --kubeconfig. */
    kube: 'builtin' | 'external'
    namespace: string
    albHostname: string
    /** Where Alertmanager delivers notifications (GET it to read them). */
    alertWebhookUrl: string
    /** The real PostgreSQL; the Aurora cluster terraform creates listens on its port (its endpoint resolves to it in the sandbox DNS). */
    postgres: { host: string; port: number; database: string }
    redis: { host: string; port: number }
    components: SandboxComponent[]
    /** Every child process (etcd, moto, postgres, stand-ins...): `down` makes sure all are gone. */
    processes: { pid: number; name: string }[]
  }
}

export function sandboxDir(root: string): string {
  return dirname(sandboxRuntimePath(root))
}

export const supervisorLogPath = (root: string): string => join(sandboxDir(root), 'supervisor.log')
/** Created exclusively by `sandbox up` before the supervisor starts: the start lock and its pid. */
export const supervisorPidPath = (root: string): string => join(sandboxDir(root), 'supervisor.pid')

export function readRuntime(root: string): SandboxRuntime | undefined {
  const path = sandboxRuntimePath(root)
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SandboxRuntime
  } catch {
    return undefined
  }
}

export function writeRuntime(root: string, rt: SandboxRuntime): void {
  writeFileAtomic(sandboxRuntimePath(root), JSON.stringify(rt, null, 2) + '\n')
}

export function readSupervisorPid(root: string): number | undefined {
  try {
    const pid = Number(readFileSync(supervisorPidPath(root), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

export function removeRuntimeFiles(root: string): void {
  rmSync(sandboxRuntimePath(root), { force: true })
  rmSync(supervisorPidPath(root), { force: true })
}

/** Running, and not a zombie (an orphan that nobody reaped has exited all the same). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true // no procfs: trust kill(0)
  }
}
