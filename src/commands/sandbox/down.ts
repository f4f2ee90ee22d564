import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, jsonFlag } from '../../cli/base.js'
import { findProjectRoot } from '../../config/files.js'
import { EXIT } from '../../engine/errors.js'
import { sandboxDown } from '../../sandbox/manager.js'
import { renderDown } from '../../sandbox/render.js'

export default class SandboxDown extends BaseCommand {
  static override summary = 'Stop the local sandbox and everything it started.'
  static override description = describe(
    'Signals the sandbox supervisor, which stops every component; then checks that no process and no port is left behind (exit 1 if something is). ' +
      'Safe to run when the sandbox is not running. The environment state (<AUTOLYTIQ_HOME>/state/sandbox.json) is kept: reset it with `autolytiq state reset --env sandbox`.',
  )
  static override examples = ['<%= config.bin %> sandbox down', '<%= config.bin %> sandbox down --json']
  static override flags = {
    timeout: Flags.integer({ description: 'seconds to wait for a graceful stop before killing', default: 60, min: 1 }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxDown)
    this.json = flags.json
    const result = await sandboxDown(findProjectRoot(), { timeoutMs: flags.timeout * 1000, log: (m) => this.info(m) })
    if (flags.json) this.outJson({ ok: result.leftovers.length === 0, ...result })
    else this.out(renderDown(result))
    if (result.leftovers.length) process.exitCode = EXIT.failed
  }
}
