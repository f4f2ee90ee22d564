import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '@oclif/core'
import { valueFlags, withBashValues, withZshValues } from './shell.js'

/** oclif's generated completion functions (plugin-autocomplete writes them under the CLI's cache dir). */
export function completionFiles(config: Pick<Config, 'cacheDir' | 'bin'>): { bash: string; zsh: string } {
  const dir = join(config.cacheDir, 'autocomplete', 'functions')
  return { bash: join(dir, 'bash', `${config.bin}.bash`), zsh: join(dir, 'zsh', `_${config.bin}`) }
}

function rewrite(path: string, change: (text: string) => string | undefined): boolean {
  if (!existsSync(path)) return false
  const before = readFileSync(path, 'utf8')
  const after = change(before)
  if (after === undefined) return false
  if (after === before) return true
  // A shell sourcing the file mid-write must see the old or the new function, never half of one.
  writeFileSync(`${path}.tmp`, after)
  renameSync(`${path}.tmp`, path)
  return true
}

/**
 * Adds value completion (environments, services, steps, phases) to the bash and zsh functions
 * oclif just generated, so `autolytiq autocomplete` sets up everything in one go.
 */
export function addValueCompletion(config: Pick<Config, 'cacheDir' | 'bin' | 'commands'>): { bash: boolean; zsh: boolean } {
  const files = completionFiles(config)
  const flags = valueFlags(config.commands)
  return {
    bash: rewrite(files.bash, (t) => withBashValues(t, config.bin, flags)),
    zsh: rewrite(files.zsh, (t) => withZshValues(t, config.bin, flags)),
  }
}
