import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { ALERTMANAGER_BIN } from './components/alertmanager.js'
import { postgresBinDir } from './components/postgres.js'
import { PROMETHEUS_BIN } from './components/prometheus.js'

/** An executable by absolute path, or the first one on PATH. */
function found(name: string): boolean {
  if (name.startsWith('/')) return existsSync(name)
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)))
}

/** The programs the sandbox runs that are not npm packages (scripts/install-deps.sh installs them). */
export function missingTools(): string[] {
  const pgBin = postgresBinDir()
  const wanted = [
    'moto_server',
    'redis-server',
    'openssl',
    PROMETHEUS_BIN,
    ALERTMANAGER_BIN,
    pgBin ? join(pgBin, 'postgres') : 'postgres',
    pgBin ? join(pgBin, 'initdb') : 'initdb',
  ]
  return wanted.filter((t) => !found(t))
}
