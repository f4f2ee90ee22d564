import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { preflight } from '../engine/preflight.js'
import { renderChecks } from '../render/checks.js'

export default class Preflight extends BaseCommand {
  static override summary = 'Check that this machine can run a deploy: tools, versions, credentials.'
  static override description = describe(
    'Runs the read-only preflight checks concurrently. Required tools missing → exit 1; optional ones (docker, gh) are warnings.',
  )
  static override examples = ['<%= config.bin %> preflight --env sandbox', '<%= config.bin %> preflight --env prod --json']
  static override flags = { env: envFlag, json: jsonFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(Preflight)
    this.json = flags.json
    const { checks, result } = await preflight(flags.env)
    if (flags.json) this.outJson({ ok: result !== 'fail', result, checks })
    else this.out(renderChecks(checks, `Preflight for ${flags.env ?? process.env.AUTOLYTIQ_ENV}`))
    process.exitCode = result === 'fail' ? 1 : 0
  }
}
