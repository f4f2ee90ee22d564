/**
 * The sandbox supervisor (`node dist/sandbox/supervisor.js --root DIR [--kubeconfig FILE]`),
 * started detached by `autolytiq sandbox up`. It owns every sandbox component, so they outlive
 * the command that asked for them: it starts them, writes runtime.json when all are ready, and
 * stops them all on SIGTERM (`sandbox down`). Its children are started with a parent-death
 * signal (components/proc.ts), so even a SIGKILL of the supervisor leaves nothing running.
 * Progress goes to stdout (sandbox/supervisor.log), which `sandbox up` relays.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadCatalog } from '../config/catalog.js'
import { loadConfig } from '../config/environments.js'
import { errorMessage } from '../engine/errors.js'
import { startSandbox, type RunningSandbox } from './start.js'
import { removeRuntimeFiles, sandboxDir } from './runtime.js'

const { values } = parseArgs({ options: { root: { type: 'string' }, kubeconfig: { type: 'string' } } })
const root = values.root ?? process.cwd()

const log = (message: string): void => {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

let sandbox: RunningSandbox | undefined
let stopping = false
const stopAndExit = async (code: number): Promise<void> => {
  if (stopping) return
  stopping = true
  log('stopping')
  try {
    await sandbox?.stop()
  } catch (err) {
    log(`stop: ${errorMessage(err)}`)
  }
  removeRuntimeFiles(root)
  log('stopped')
  process.exit(code)
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void stopAndExit(0))

try {
  const config = loadConfig(root)
  const entry = Object.entries(config.environments).find(([, e]) => e.sandbox)
  if (!entry) throw new Error('autolytiq.yaml has no environment with `sandbox: true`')
  const [envName, env] = entry
  const dir = sandboxDir(root)
  rmSync(join(dir, 'pki'), { recursive: true, force: true })
  sandbox = await startSandbox({ root, dir, envName, env, catalog: loadCatalog(root), kubeconfig: values.kubeconfig, log })
  log(`ready: ${sandbox.runtime.apiUrl}`)
} catch (err) {
  log(`FAILED: ${errorMessage(err)}`)
  await stopAndExit(1)
}
