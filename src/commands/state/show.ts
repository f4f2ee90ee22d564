import { BaseCommand, describe, envFlag } from '../../cli/base.js'
import { loadProject, stateStorage } from '../../engine/context.js'
import { StateStore } from '../../engine/state.js'

export default class StateShow extends BaseCommand {
  static override summary = "Print the environment's state file (JSON; never holds a secret)."
  static override description = describe('The raw, validated state: runs, step statuses, non-secret outputs, rollback points, checklist answers.')
  static override examples = ['<%= config.bin %> state show --env prod']
  static override flags = { env: envFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(StateShow)
    const info = loadProject(flags.env)
    const store = await StateStore.open(stateStorage(info).backend, info.envName)
    this.outJson(store.state)
  }
}
