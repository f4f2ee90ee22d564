import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { checklist } from '../engine/checklist.js'
import { checklistSummary, notifyWarnings } from '../notify/index.js'
import { renderChecklistText, writeChecklistMarkdown } from '../render/checklist.js'

export default class Checklist extends BaseCommand {
  static override summary = "Walk the plan's go-live checklist: probes what it can, asks a person the rest."
  static override description = describe(
    [
      'Every item of runbooks/checklist.yaml (the plan, Phase 8.7). Items backed by checks are evaluated live;',
      'manual items are asked in a terminal ("no" is the default) and each answer is stored with who and when it',
      'was given. --yes never answers a manual item; without a terminal they stay open, unless --answers names a',
      'reviewed YAML file (environment, signedBy, answers: {<item>: {answer: yes|no|n/a, note}}) that signs them:',
      'it is validated strictly (an unknown or automatic item exits 2, nothing recorded) and the audit log keeps',
      'its sha256. Exit 0 when every item is done; 1 when an automatic item fails or a manual item is open or',
      'answered "no". release.tag refuses to tag until it is complete.',
    ].join(' '),
  )
  static override examples = [
    '<%= config.bin %> checklist --env prod',
    '<%= config.bin %> checklist --env prod --export go-live-checklist.md',
    '<%= config.bin %> checklist --env prod --answers go-live-answers.yaml',
    '<%= config.bin %> checklist --env staging --json',
  ]
  static override flags = {
    env: envFlag,
    export: Flags.string({ description: 'also write the checklist with its evidence as Markdown', helpValue: 'FILE.md' }),
    answers: Flags.string({ description: 'sign manual items from a reviewed answers file (no terminal needed; CD after approval)', helpValue: 'FILE.yaml' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Checklist)
    this.json = flags.json
    const started = Date.now()
    const { result, ctx } = await checklist({ env: flags.env, answersFile: flags.answers })
    const exportFile = flags.export ? writeChecklistMarkdown(result, flags.export) : undefined
    const warnings = await notifyWarnings(ctx, checklistSummary({ ...result, exportFile }, Date.now() - started))
    const r = { ...result, exportFile, warnings }
    if (flags.json) this.outJson({ ok: r.complete, ...r })
    else {
      this.out(renderChecklistText(r))
      if (r.exportFile) this.info(`Checklist written to ${r.exportFile}`)
      for (const w of r.warnings) this.info(`Warning: ${w}`)
    }
    process.exitCode = r.complete ? 0 : 1
  }
}
