import * as Flags from '@oclif/core/flags'
import { join } from 'node:path'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { loadProject, stateDir } from '../engine/context.js'
import { LocalAuditLog } from '../engine/audit.js'
import { table } from '../render/table.js'

export default class Log extends BaseCommand {
  static override summary = 'Show the audit log: every mutating action, who, when, result.'
  static override description = describe('The audit log is append-only JSON lines next to the state file; secrets are redacted before they are written.')
  static override examples = ['<%= config.bin %> log --env prod', '<%= config.bin %> log --env prod --limit 200 --json']
  static override flags = { env: envFlag, json: jsonFlag, limit: Flags.integer({ default: 50, description: 'newest entries to show' }) }

  async run(): Promise<void> {
    const { flags } = await this.parse(Log)
    this.json = flags.json
    const info = loadProject(flags.env)
    const entries = (await new LocalAuditLog(join(stateDir(info.root), `${info.envName}.audit.jsonl`)).read()).slice(-flags.limit)
    if (flags.json) return this.outJson({ environment: info.envName, entries })
    if (entries.length === 0) return this.out(`No audit entries for ${info.envName} yet.`)
    this.out(
      table(
        ['when', 'who', 'action', 'step', 'result', 'detail'],
        entries.map((e) => [e.at, `${e.user}@${e.host}`, e.action, e.step ?? '', e.result, e.detail ?? '']),
      ),
    )
  }
}
