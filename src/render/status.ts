import type { EnvironmentStatus } from '../engine/status.js'
import { table } from './table.js'

export function renderStatus(s: EnvironmentStatus): string {
  const lines = [`Environment ${s.environment}${s.release ? ` — release ${s.release}` : ''}  (state: ${s.stateFile})`]
  if (s.lock)
    lines.push(
      `LOCKED by ${s.lock.user}@${s.lock.host} pid ${s.lock.pid} since ${s.lock.startedAt}${s.lock.stale ? ` — looks dead (${s.lock.stale}); \`autolytiq state unlock --env ${s.environment}\`` : ''}`,
    )
  if (s.lastRun) {
    const r = s.lastRun
    // A failed run that changed nothing (a missing tool on this machine, say) must not read as a
    // broken environment: say where it stopped and that the environment is as it was.
    const outcome =
      r.result === 'failed' || r.result === 'interrupted'
        ? `${r.result}${r.stoppedAt ? ` at ${r.stoppedAt}` : ''}${r.changed === 0 ? '; it changed nothing' : `; it changed ${r.changed} step(s) first`}`
        : r.result
    lines.push(`Last run: ${r.command} by ${r.user}@${r.host} at ${r.startedAt} — ${outcome}`)
  } else lines.push('No run yet.')
  lines.push('')
  lines.push(
    table(
      ['phase', 'step', 'status', 'tries', 'finished', 'detail'],
      s.steps.map((x) => [String(x.phase), x.id, x.status, String(x.attempts), x.endedAt ?? '', x.error ?? x.detail ?? '']),
    ),
  )
  lines.push('')
  // One count everywhere: the runbook's steps, skipped ones included and counted as settled.
  const done = s.steps.filter((x) => x.status === 'done').length
  const skipped = s.steps.filter((x) => x.status === 'skipped').length
  const settled = `${done + skipped}/${s.steps.length} steps done${skipped ? ` (${skipped} of them skipped)` : ''}`
  lines.push(
    s.next
      ? `${settled}. Next: ${s.next} (\`autolytiq deploy --env ${s.environment}\` resumes there).`
      : `All ${s.steps.length} steps done${skipped ? ` (${skipped} skipped)` : ''}.`,
  )
  if (s.images.length) {
    lines.push('')
    lines.push('Deployed images (k8s.deploy):')
    lines.push(
      table(
        ['service', 'tag', 'digest'],
        s.images.map((i) => [i.service, i.tag, i.digest ?? '(not pinned)']),
      ),
    )
  }
  lines.push(`${s.rollbackPoints} rollback point(s) recorded.`)
  return lines.join('\n')
}
