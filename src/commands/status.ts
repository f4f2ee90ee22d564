import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { environmentStatus } from '../engine/status.js'
import { renderStatus } from '../render/status.js'

export default class Status extends BaseCommand {
  static override summary = 'Show where an environment stands: steps done, failed, pending; who ran what; the lock.'
  static override description = describe('Reads only the state file and the lock; never touches AWS or Kubernetes, so it is instant and safe at any time.')
  static override examples = ['<%= config.bin %> status --env prod', '<%= config.bin %> status --env sandbox --json']
  static override flags = { env: envFlag, json: jsonFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(Status)
    this.json = flags.json
    const status = await environmentStatus(flags.env)
    if (flags.json) this.outJson(status)
    else this.out(renderStatus(status))
  }
}
