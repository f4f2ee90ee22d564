import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, jsonFlag } from '../cli/base.js'
import { COMPLETION_KINDS, completionCandidates, type Candidate } from '../completion/candidates.js'
import { findProjectRoot } from '../config/files.js'

export default class Complete extends BaseCommand {
  static override hidden = true
  static override summary = 'Print completion candidates for the shell (used by `autolytiq autocomplete`).'
  static override description = describe(
    [
      'Prints, one per line, the values <TAB> offers after a flag: environments from autolytiq.yaml, services from',
      'services/catalog.yaml, step ids and phases from runbooks/. The bash and zsh functions set up by',
      '`autolytiq autocomplete` call it. Outside a project it prints nothing and exits 0, so a <TAB> never writes an',
      'error into the command line.',
    ].join(' '),
  )

  static override examples = [
    { description: 'Environments (for --env)', command: '<%= config.bin %> complete env' },
    { description: 'Step ids with their phase, as zsh shows them', command: '<%= config.bin %> complete step --describe' },
    { description: 'Set up shell completion (bash or zsh)', command: '<%= config.bin %> autocomplete bash' },
  ]

  static override args = {
    kind: Args.string({ description: 'what to complete', options: [...COMPLETION_KINDS], required: true }),
  }

  static override flags = {
    describe: Flags.boolean({ description: 'print value:description (zsh _describe format)' }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Complete)
    this.json = flags.json
    let found: Candidate[] = []
    try {
      found = completionCandidates(args.kind as (typeof COMPLETION_KINDS)[number], findProjectRoot())
    } catch {
      // outside a project: nothing to offer
    }
    if (flags.json) return this.outJson(found)
    const line = (c: Candidate): string => (flags.describe && c.description ? `${c.value.replace(/:/g, '\\:')}:${c.description.replace(/\n/g, ' ')}` : c.value)
    if (found.length) this.out(found.map(line).join('\n'))
  }
}
