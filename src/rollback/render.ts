import { duration } from '../render/table.js'
import type { InfraRollbackResult } from './infra.js'
import type { ChangeReport, ServiceRollbackResult } from './service.js'
import { describeVersion } from './state-versions.js'

function revisions(c: ChangeReport): string {
  if (c.kind === 'CronJob') return 'CronJob'
  if (c.action === 'undo') return `revision ${c.fromRevision ?? '?'} -> ${c.toRevision ?? '?'}`
  return `revision ${c.fromRevision ?? '?'}`
}

/** Image before -> after, one line per container that changes (or all, when nothing does). */
function imageLines(c: ChangeReport): string[] {
  const names = Object.keys({ ...c.before, ...c.after })
  const changed = names.filter((n) => c.before[n] !== c.after[n])
  return (changed.length ? changed : names).map((n) => `    ${n}: ${c.before[n] ?? '(none)'} -> ${c.after[n] ?? '(none)'}`)
}

/** The human summary of `autolytiq rollback`: what ran before, what runs now, and whether it is verified. */
export function renderServiceRollback(r: ServiceRollbackResult): string {
  const out: string[] = []
  const where = `${r.environment} (namespace ${r.namespace})`
  if (r.result === 'dry-run') {
    out.push(`Dry run: rollback on ${where}; nothing was changed.`)
    for (const c of r.changes) {
      out.push(`  ${c.service} (${revisions(c)}): ${c.noop ? `no change, ${c.noop}` : 'would change'}`, ...imageLines(c))
      if (!c.noop) out.push(`    ${c.call}`)
    }
    return out.join('\n')
  }
  if (r.result === 'no-change') {
    out.push(`Nothing to roll back on ${where}; nothing was changed:`)
    for (const c of r.changes) out.push(`  ${c.service}: ${c.noop}`)
    return out.join('\n')
  }
  const title = { 'rolled-back': 'Rolled back', failed: 'Rollback FAILED', interrupted: 'Rollback INTERRUPTED' }[r.result]
  out.push(`${title} on ${where} in ${duration(r.durationMs)}:`)
  for (const c of r.changes) {
    const state = c.noop ? `unchanged (${c.noop})` : c.changed ? 'changed' : `NOT changed: ${c.error ?? 'not reached'}`
    out.push(`  ${c.service} (${revisions(c)}): ${state}`, ...imageLines(c))
    const v = r.verification.find((x) => x.service === c.service)
    if (v) out.push(`    verified: ${v.ok ? 'yes' : 'NO'} — ${v.detail}`)
  }
  if (r.error) out.push('', `Error: ${r.error.message}`, ...(r.error.next ? [`  Next: ${r.error.next}`] : []))
  if (r.result === 'interrupted')
    out.push('The change was sent to the cluster, which keeps rolling it out; check with `autolytiq verify --env ' + r.environment + '`.')
  out.push(`Audit trail: \`autolytiq log --env ${r.environment}\` (run ${r.runId}).`)
  return out.join('\n')
}

/** The human summary of `autolytiq rollback infra`: versions, what was restored, the plan, what was applied. */
export function renderInfraRollback(r: InfraRollbackResult): string {
  const out: string[] = [`Terraform state s3://${r.bucket}/${r.key} — versions, newest first:`]
  for (const v of r.versions.slice(0, 15)) out.push(`  ${v.versionId === r.chosen ? '>' : ' '} ${describeVersion(v)}`)
  if (r.result === 'dry-run') {
    out.push('', `Dry run: would make ${r.chosen} current on ${r.environment}; nothing was changed. Exactly:`, ...r.commands.map((c) => `  ${c}`))
    return out.join('\n')
  }
  out.push('')
  if (r.restored) out.push(`Restored: version ${r.chosen} is current again (new version ${r.currentVersion}); ${r.previous} was current before.`)
  if (r.plan) out.push(`terraform plan: ${r.plan.summary}`, '', r.plan.text.trim(), '')
  if (r.applied) out.push(`Applied, and a fresh plan shows no changes.`)
  if (r.note) out.push(`Note: ${r.note}`)
  if (r.restored) out.push(`To undo the state swap: autolytiq rollback infra --env ${r.environment} --state-version ${r.previous}`)
  out.push(`Audit trail: \`autolytiq log --env ${r.environment}\` (run ${r.runId}).`)
  return out.join('\n')
}
