import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onExit } from './exit-hooks.js'

/** Temp dirs created by this process; removed on stop and, as a last resort, at process exit. */
const live = new Set<string>()
let hooked = false

/** Set AUTOLYTIQ_KEEP_TMP=1 to keep component dirs (logs, data) for a post-mortem. */
const keep = () => process.env.AUTOLYTIQ_KEEP_TMP === '1'

export function makeTempDir(name: string): string {
  if (!hooked) {
    hooked = true
    onExit(() => {
      for (const dir of live) removeTempDir(dir)
    }, 10)
  }
  const dir = mkdtempSync(join(tmpdir(), `autolytiq-${name}-`))
  live.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  live.delete(dir)
  if (keep()) return
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
}
