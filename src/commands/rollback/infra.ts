import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../../cli/base.js'
import { rollbackInfra } from '../../rollback/infra.js'
import { renderInfraRollback } from '../../rollback/render.js'

export default class RollbackInfra extends BaseCommand {
  static override summary = 'Make an earlier S3 version of the Terraform state current, show the plan, apply it after a second confirmation.'
  static override description = describe(
    "The plan's \"Full Infrastructure Rollback\", made safe: lists the S3 versions of the state object (autolytiq.yaml terraformState); after you type the environment name, copies the chosen version onto the same key under Terraform's own state lock (S3 keeps the previous one, so this is undoable the same way) and updates the backend's MD5 digest; runs terraform init and plan and shows what would change; applies only after a second confirmation (without a terminal: --yes --apply), then verifies a fresh plan is empty.",
  )
  static override examples = [
    {
      description: 'List the state versions and see exactly what would happen',
      command: '<%= config.bin %> rollback infra --env prod --state-version 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY --dry-run',
    },
    {
      description: 'Restore it and review the plan (you are asked twice)',
      command: '<%= config.bin %> rollback infra --env prod --state-version 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
    },
    { description: 'Non-interactive, applying the plan', command: '<%= config.bin %> rollback infra --env staging --state-version <ID> --yes --apply --json' },
  ]
  static override flags = {
    env: envFlag,
    'state-version': Flags.string({ required: true, description: 'S3 version id of the state object to make current', helpValue: 'ID' }),
    apply: Flags.boolean({ description: 'with --yes: also apply the resulting plan (interactive runs ask instead)' }),
    'dry-run': Flags.boolean({ description: 'list the versions and the exact calls and commands; change nothing' }),
    yes: Flags.boolean({ char: 'y', description: 'answer yes to the state restore confirmation (required without a terminal or in CI)' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RollbackInfra)
    this.json = flags.json
    const r = await rollbackInfra({
      env: flags.env,
      stateVersion: flags['state-version'],
      apply: flags.apply,
      dryRun: flags['dry-run'],
      yes: flags.yes,
      progress: (line) => this.info(line),
    })
    if (flags.json) this.outJson({ ok: r.exitCode === 0, ...r })
    else this.out(renderInfraRollback(r))
    process.exitCode = r.exitCode
  }
}
