import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../../cli/base.js'
import { buildContext } from '../../engine/context.js'

export default class StateReset extends BaseCommand {
  static override summary = "Forget an environment's progress (keeps a .bak copy). Changes nothing in AWS or Kubernetes."
  static override description = describe('The next deploy re-checks every step from the start. Needs the lock, and the environment name typed (or --yes).')
  static override examples = ['<%= config.bin %> state reset --env sandbox --yes']
  static override flags = { env: envFlag, yes: Flags.boolean({ char: 'y', description: 'do not ask' }), json: jsonFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(StateReset)
    this.json = flags.json
    const { ctx, lock } = await buildContext({ env: flags.env, yes: flags.yes })
    await ctx.prompt.typed(
      `Reset the state of ${ctx.envName}? Progress, outputs and rollback points are forgotten (a .bak copy is kept).`,
      ctx.envName,
      `state reset of ${ctx.envName}`,
    )
    await lock.acquire('autolytiq state reset', ctx.runId)
    try {
      await ctx.state.reset()
      await ctx.audit.append({ runId: ctx.runId, environment: ctx.envName, action: 'state.reset', result: 'ok' })
    } finally {
      await lock.release()
    }
    if (flags.json) this.outJson({ ok: true, environment: ctx.envName })
    else this.out(`State of ${ctx.envName} reset (backup kept next to ${ctx.state.location}).`)
  }
}
