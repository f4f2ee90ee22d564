import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { deploy } from '../engine/deploy.js'
import { notifyRunReport } from '../notify/index.js'
import { renderRunReport } from '../render/run-report.js'

export default class Deploy extends BaseCommand {
  static override summary = 'Run the go-live runbook: resumable, idempotent, verified.'
  static override description = describe(`Runs the eight phases of the deployment plan for one environment. Every step first checks,
read-only, whether it is already done; finished steps are left alone, so re-running is always
safe and a finished environment changes nothing. After a crash or Ctrl-C, run the same command
again: it resumes, re-checking the interrupted step first. Mutating runs need a terminal to
confirm on (production: type its name) or --yes.`)

  static override examples = [
    { description: 'Rehearse the whole go-live on the local sandbox', command: '<%= config.bin %> deploy --env sandbox --yes' },
    { description: 'See exactly what a production run would do, changing nothing', command: '<%= config.bin %> deploy --env prod --dry-run' },
    { description: 'Run phases 1 to 4 only', command: '<%= config.bin %> deploy --env staging --phase 1..4' },
    { description: 'Re-run one step (e.g. after fixing drift)', command: '<%= config.bin %> deploy --env prod --only ecr.repositories' },
    {
      description: 'Deploy from CI, rolling back services automatically on failure',
      command: '<%= config.bin %> deploy --env prod --yes --auto-rollback --json',
    },
  ]

  static override flags = {
    env: envFlag,
    phase: Flags.string({ char: 'p', multiple: true, description: 'phase number, name or range (1..4); repeatable' }),
    from: Flags.string({ description: 'start at this step id' }),
    only: Flags.string({ multiple: true, description: 'run only this step id; repeatable' }),
    'dry-run': Flags.boolean({ description: "print each step's exact commands / API calls and whether it is already done; change nothing" }),
    yes: Flags.boolean({ char: 'y', description: 'answer yes to confirmations (required without a terminal or in CI)' }),
    'auto-rollback': Flags.boolean({ description: 'when a rollout or verification fails, roll back the services this run changed' }),
    'rollback-past-migration': Flags.boolean({
      description:
        'with --auto-rollback: roll back even when k8s.migrate moved the schema in this run (otherwise a terminal asks you to type the environment name, and CI does not roll back)',
      dependsOn: ['auto-rollback'],
    }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Deploy)
    this.json = flags.json
    const { rollbackChangedServices } = flags['auto-rollback'] ? await import('../engine/auto-rollback.js') : { rollbackChangedServices: undefined }
    const { report, exitCode, ctx } = await deploy({
      env: flags.env,
      phases: flags.phase,
      from: flags.from,
      only: flags.only,
      dryRun: flags['dry-run'],
      yes: flags.yes,
      json: flags.json,
      autoRollback: flags['auto-rollback'],
      onFailure: rollbackChangedServices
        ? (failed, err, ctx) => rollbackChangedServices(failed, err, ctx, { pastMigration: flags['rollback-past-migration'] })
        : undefined,
    })
    // Tell the team (Slack, when configured); a failed post is a warning, never a different exit code.
    await notifyRunReport(ctx, 'deploy', report)
    if (flags.json) this.outJson({ ok: exitCode === 0, exitCode, ...report })
    else this.out(renderRunReport(report))
    process.exitCode = exitCode
  }
}
