import type { EnvironmentStatus } from '../engine/status.js'
import { table } from './table.js'

export function renderStatus(s: EnvironmentStatus): string {
  const lines = [`Environment ${s.environment}${s.release ? ` — release ${s.release}` : ''}  (state: ${s.stateFile})`]
  if (s.lock)
    lines.push(
      `LOCKED by ${s.lock.user}@${s.lock.host} pid ${s.lock.pid} since ${s.lock.startedAt}${s.lock.stale ? ` — looks dead (${s.lock.stale}); \`autolytiq state unlock --env ${s.environment}\`` : ''}`,
    )
  if (s.lastRun) lines.push(`Last run: ${s.lastRun.command} by ${s.lastRun.user}@${s.lastRun.host} at ${s.lastRun.startedAt} — ${s.lastRun.result}`)
  else lines.push('No run yet.')
  lines.push('')
  lines.push(
    table(
      ['phase', 'step', 'status', 'tries', 'finished', 'detail'],
      s.steps.map((x) => [String(x.phase), x.id, x.status, String(x.attempts), x.endedAt ?? '', x.error ?? x.detail ?? '']),
    ),
  )
  lines.push('')
  const done = s.steps.filter((x) => x.status === 'done').length
  lines.push(
    s.next
      ? `${done}/${s.steps.length} steps done. Next: ${s.next} (\`autolytiq deploy --env ${s.environment}\` resumes there).`
      : `All ${s.steps.length} steps done.`,
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
