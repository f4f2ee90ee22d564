import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../../cli/base.js'
import { redact } from '../../engine/redact.js'
import { notifyWarnings, serviceRollbackSummary } from '../../notify/index.js'
import { renderServiceRollback } from '../../rollback/render.js'
import { rollbackServices } from '../../rollback/service.js'

export default class Rollback extends BaseCommand {
  static override summary = 'Roll back services: undo a Deployment to its previous (or a given) revision, or set every image to a known-good tag.'
  static override description = describe(
    '--service S undoes the Deployment exactly as `kubectl rollout undo` does (its previous revision, or --to-revision N), waits for the rollout, fails fast when the new pods crash or cannot pull their image, verifies that every pod is Ready on the restored image, and prints the image before and after. Undoing an undo (which would bring the bad release back) is refused: pick --to-revision on purpose. --image-tag T sets the named services (or --all catalog services, the CronJob included) to tag T in the registry and repository they already use; for ECR images the tag must exist. Takes the environment lock, asks for confirmation (production: type its name; without a terminal: --yes), records a rollback point of what ran before and an audit entry per service. Database and infrastructure: `autolytiq rollback database --env <env> --latest`, `autolytiq rollback infra --env <env> --state-version <id>`.',
  )

  static override examples = [
    { description: 'Undo the last release of one service', command: '<%= config.bin %> rollback --env prod --service deal-service' },
    {
      description: 'Go back to a specific revision (see `kubectl rollout history`)',
      command: '<%= config.bin %> rollback --env prod --service deal-service --to-revision 4',
    },
    { description: 'Every catalog service back to a known-good tag', command: '<%= config.bin %> rollback --env prod --image-tag v1.0.0 --all' },
    {
      description: 'See exactly what would change',
      command: '<%= config.bin %> rollback --env prod --image-tag v1.0.0 --service auth-service --service deal-service --dry-run',
    },
  ]

  static override flags = {
    env: envFlag,
    service: Flags.string({ char: 's', multiple: true, description: 'catalog service (Deployment) to roll back; repeatable' }),
    'to-revision': Flags.integer({ min: 1, description: 'with one --service: the revision to restore (default: the previous one)' }),
    'image-tag': Flags.string({ char: 't', description: 'set the services to this image tag instead of undoing', helpValue: 'TAG' }),
    all: Flags.boolean({ description: 'with --image-tag: every service in services/catalog.yaml' }),
    timeout: Flags.integer({ min: 1, default: 600, description: 'seconds to wait for the rollout (a crashing rollout fails at once)' }),
    'dry-run': Flags.boolean({ description: 'print each change (Deployment, revision, image before -> after, API call); change nothing' }),
    yes: Flags.boolean({ char: 'y', description: 'answer yes to the confirmation (required without a terminal or in CI)' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Rollback)
    this.json = flags.json
    const { result, ctx } = await rollbackServices({
      env: flags.env,
      services: flags.service ?? [],
      all: flags.all,
      toRevision: flags['to-revision'],
      imageTag: flags['image-tag'],
      dryRun: flags['dry-run'],
      yes: flags.yes,
      timeoutSeconds: flags.timeout,
      progress: (line) => this.info(line),
    })
    result.warnings = await notifyWarnings(ctx, serviceRollbackSummary(result, ctx.env.release))
    if (flags.json) this.outJson({ ok: result.exitCode === 0, ...result })
    else this.out(redact(renderServiceRollback(result)))
    for (const w of result.warnings ?? []) this.info(`Warning: ${w}`)
    process.exitCode = result.exitCode
  }
}
