import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { checklist } from '../engine/checklist.js'
import { renderChecklistText } from '../render/checklist.js'

export default class Checklist extends BaseCommand {
  static override summary = "Walk the plan's go-live checklist: probes what it can, asks a person the rest."
  static override description = describe(
    [
      'Every item of runbooks/checklist.yaml (the plan, Phase 8.7). Items backed by checks are evaluated live;',
      'manual items are asked in a terminal and the answer is stored with who and when. --yes never answers a',
      'manual item; without a terminal they stay open. Exit 0 when every item is done; 1 when an automatic',
      'item fails or a manual item is open or answered "no". release.tag refuses to tag until it is complete.',
    ].join(' '),
  )
  static override examples = [
    '<%= config.bin %> checklist --env prod',
    '<%= config.bin %> checklist --env prod --export go-live-checklist.md',
    '<%= config.bin %> checklist --env staging --json',
  ]
  static override flags = {
    env: envFlag,
    export: Flags.string({ description: 'also write the checklist with its evidence as Markdown', helpValue: 'FILE.md' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Checklist)
    this.json = flags.json
    const r = await checklist({ env: flags.env, exportFile: flags.export })
    if (flags.json) this.outJson({ ok: r.complete, ...r })
    else {
      this.out(renderChecklistText(r))
      if (r.exportFile) this.info(`Checklist written to ${r.exportFile}`)
      for (const w of r.warnings) this.info(`Warning: ${w}`)
    }
    process.exitCode = r.complete ? 0 : 1
  }
}
