import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, jsonFlag } from '../../cli/base.js'
import { findProjectRoot } from '../../config/files.js'
import { loadRunbook, runbookMarkdown } from '../../engine/runbook.js'
import { stepRegistry } from '../../steps/index.js'
import { table } from '../../render/table.js'

export default class RunbookShow extends BaseCommand {
  static override summary = 'Show a runbook exactly as it runs (phases, steps, danger, implementation).'
  static override description = describe(
    "Renders runbooks/<name>.yaml with each step's description from its implementation, so the human runbook can never drift from what runs.",
  )
  static override examples = [
    '<%= config.bin %> runbook show',
    '<%= config.bin %> runbook show go-live --markdown > RUNBOOK.md',
    '<%= config.bin %> runbook show rollback-database',
  ]
  static override args = { name: Args.string({ description: 'runbook name', default: 'go-live' }) }
  static override flags = { markdown: Flags.boolean({ description: 'Markdown for people (wiki, incident ticket)' }), json: jsonFlag }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(RunbookShow)
    this.json = flags.json
    const rb = loadRunbook(findProjectRoot(), args.name, stepRegistry())
    if (flags.json)
      return this.outJson({
        ...rb,
        steps: rb.steps.map(({ impl, ...s }) => ({
          ...s,
          implemented: Boolean(impl),
          title: impl?.title,
          danger: impl?.danger,
          description: impl?.description,
        })),
      })
    if (flags.markdown) return this.out(runbookMarkdown(rb))
    const rows = rb.steps.map((s) => [`${s.phase.number}`, s.id, s.impl ? s.impl.danger : 'NOT IMPLEMENTED', s.impl?.title ?? ''])
    this.out(`${rb.title} (${rb.file})\n\n${table(['phase', 'step', 'danger', 'title'], rows)}`)
  }
}
