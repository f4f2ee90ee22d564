import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../../cli/base.js'
import { renderRunReport } from '../../render/run-report.js'
import { rollbackDatabase } from '../../rollback/database.js'

export default class RollbackDatabase extends BaseCommand {
  static override summary = 'Restore an RDS snapshot into a new cluster and move the application onto it (resumable runbook).'
  static override description = describe(
    'Runs runbooks/rollback-database.yaml: lists the snapshots of the cluster in use and picks --snapshot ID or the newest (--latest); asks you to type the environment name; records the replica counts of the services that use the database and scales them to zero; restores the snapshot into a new cluster (the old one is kept) and waits until it is available; points autolytiq/<env>/database and the ExternalSecret at the new endpoint; scales every service back to exactly its recorded count; verifies. After a crash or Ctrl-C, run the same command again: it resumes with the same snapshot.',
  )
  static override examples = [
    { description: 'See the snapshots and exactly what would happen', command: '<%= config.bin %> rollback database --env prod --latest --dry-run' },
    { description: 'Restore a named snapshot', command: '<%= config.bin %> rollback database --env prod --snapshot autolytiq-prod-2024-06-01-0300' },
    { description: 'From CI, the newest snapshot', command: '<%= config.bin %> rollback database --env staging --latest --yes --json' },
  ]
  static override flags = {
    env: envFlag,
    snapshot: Flags.string({ description: 'DB cluster snapshot identifier to restore', helpValue: 'ID', exclusive: ['latest'] }),
    latest: Flags.boolean({ description: 'restore the newest available snapshot of the cluster in use', exclusive: ['snapshot'] }),
    'dry-run': Flags.boolean({ description: "list the snapshots and each step's exact API calls; change nothing" }),
    yes: Flags.boolean({ char: 'y', description: 'answer yes to confirmations (required without a terminal or in CI)' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(RollbackDatabase)
    this.json = flags.json
    const { report, exitCode } = await rollbackDatabase({
      env: flags.env,
      snapshot: flags.snapshot,
      latest: flags.latest,
      dryRun: flags['dry-run'],
      yes: flags.yes,
      json: flags.json,
    })
    if (flags.json) this.outJson({ ok: exitCode === 0, exitCode, ...report })
    else this.out(renderRunReport(report))
    process.exitCode = exitCode
  }
}
