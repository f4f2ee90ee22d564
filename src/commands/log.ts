import * as Flags from '@oclif/core/flags'
import { join } from 'node:path'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { loadProject, stateDir } from '../engine/context.js'
import { LocalAuditLog, type AuditEntry } from '../engine/audit.js'
import { table } from '../render/table.js'

const param = (params: AuditEntry['params'], key: string): string => {
  const v = params?.[key]
  return typeof v === 'string' ? v : ''
}

/** What the row says beyond its columns: the entry's own detail, else its timing or signer. */
function detailOf(e: AuditEntry): string {
  if (e.detail) return e.detail.replace(/\s*\n\s*/g, ' ')
  const extra = [
    param(e.params, 'signedBy') && `signed by ${param(e.params, 'signedBy')}`,
    param(e.params, 'sha256') && `sha256 ${param(e.params, 'sha256').slice(0, 12)}`,
    e.durationMs !== undefined && `${(e.durationMs / 1000).toFixed(1)} s`,
  ]
  return extra.filter(Boolean).join(', ')
}

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
        ['when', 'who', 'action', 'step/item', 'answer', 'result', 'detail'],
        entries.map((e) => [e.at, `${e.user}@${e.host}`, e.action, e.step ?? param(e.params, 'item'), param(e.params, 'answer'), e.result, detailOf(e)]),
      ),
    )
  }
}
