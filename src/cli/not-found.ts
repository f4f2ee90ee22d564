import type { Hook } from '@oclif/core/hooks'
import { EXIT } from '../engine/errors.js'
import { closest } from './suggest.js'

/**
 * oclif's command_not_found hook: one message, the command it most likely meant with the rest of
 * the line kept (so it can be pasted), exit 2 — instead of "command deplyo not found".
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const typed = opts.id.replace(/:/g, ' ')
  const ids = opts.config.commandIDs.map((id) => id.replace(/:/g, ' '))
  const guess = closest(typed, ids)
  const rest = opts.argv ?? []
  const next = guess
    ? `did you mean \`autolytiq ${[guess, ...rest].join(' ')}\`? (\`autolytiq --help\` lists the commands)`
    : '`autolytiq --help` lists the commands'
  process.stderr.write(`Error: "${typed}" is not an autolytiq command\n  Next: ${next}\n`)
  process.exitCode = EXIT.usage
}

export default hook
