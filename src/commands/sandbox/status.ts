import { BaseCommand, describe, jsonFlag } from '../../cli/base.js'
import { findProjectRoot } from '../../config/files.js'
import { EXIT } from '../../engine/errors.js'
import { sandboxStatus } from '../../sandbox/manager.js'
import { renderStatus } from '../../sandbox/render.js'

export default class SandboxStatus extends BaseCommand {
  static override summary = 'Show whether the sandbox runs: each component, its process and whether its port answers.'
  static override description = describe(
    'Read-only. Exit 0 when the sandbox is running and every component answers, or when it is simply not running; exit 1 when it is degraded (a component died).',
  )
  static override examples = ['<%= config.bin %> sandbox status', '<%= config.bin %> sandbox status --json']
  static override flags = { json: jsonFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxStatus)
    this.json = flags.json
    const status = await sandboxStatus(findProjectRoot())
    if (flags.json) this.outJson(status)
    else this.out(renderStatus(status))
    if (status.state === 'degraded') process.exitCode = EXIT.failed
  }
}
