import { BaseCommand, describe, envFlag } from '../../cli/base.js'
import { loadProject, stateDir } from '../../engine/context.js'
import { LocalStateBackend, StateStore } from '../../engine/state.js'
import { join } from 'node:path'

export default class StateShow extends BaseCommand {
  static override summary = "Print the environment's state file (JSON; never holds a secret)."
  static override description = describe('The raw, validated state: runs, step statuses, non-secret outputs, rollback points, checklist answers.')
  static override examples = ['<%= config.bin %> state show --env prod']
  static override flags = { env: envFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(StateShow)
    const info = loadProject(flags.env)
    const store = await StateStore.open(new LocalStateBackend(join(stateDir(info.root), `${info.envName}.json`)), info.envName)
    this.outJson(store.state)
  }
}
