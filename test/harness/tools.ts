import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'

/** First executable `name` on PATH, if any. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name)
    if (dir && existsSync(p)) return p
  }
  return undefined
}

/** helm on PATH, else the one scripts/install-deps.sh extracts into the cache. */
export function helmPath(): string | undefined {
  const cache = process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq')
  const cached = join(cache, 'bin', 'helm')
  return which('helm') ?? (existsSync(cached) ? cached : undefined)
}
