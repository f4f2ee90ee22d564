import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../../cli/base.js'
import { buildContext } from '../../engine/context.js'
import { describeHolder } from '../../engine/lock.js'
import { releaseDeadTerraformLock } from '../../steps/terraform/lock.js'

export default class StateUnlock extends BaseCommand {
  static override summary = 'Release the lock of a run that died (crash, closed laptop).'
  static override description = describe(
    "Takes over a lock only when its holder is dead: its pid is gone on this host, or its heartbeat is older than the lease. A live holder is refused unless --force. Also removes Terraform's state lock (<key>.tflock) when it was left by a terraform apply this tool started on this host and that no longer runs; any other Terraform lock is left in place and named.",
  )
  static override examples = ['<%= config.bin %> state unlock --env prod', '<%= config.bin %> state unlock --env prod --force']
  static override flags = { env: envFlag, force: Flags.boolean({ description: 'remove the lock even if its holder looks alive' }), json: jsonFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(StateUnlock)
    this.json = flags.json
    const { ctx, lock } = await buildContext({ env: flags.env })
    const removed = await lock.forceUnlock(flags.force)
    if (removed)
      await ctx.audit.append({
        runId: ctx.runId,
        environment: ctx.envName,
        action: 'state.unlock',
        result: 'ok',
        detail: `removed lock of ${describeHolder(removed)}`,
      })
    // The dead run may have been killed inside `terraform apply`, leaving Terraform's own lock.
    const tf = await releaseDeadTerraformLock(ctx)
    const lines = [removed ? `Removed the lock held by ${describeHolder(removed)}.` : `${ctx.envName} was not locked.`]
    if (tf?.removed) lines.push(`Removed Terraform's state lock ${tf.lock}: ${tf.reason}.`)
    else if (tf) lines.push(`Left Terraform's state lock ${tf.lock} in place: ${tf.reason}.`)
    if (flags.json) this.outJson({ ok: true, environment: ctx.envName, removed: removed ?? null, terraformLock: tf ?? null })
    else this.out(lines.join('\n'))
  }
}
