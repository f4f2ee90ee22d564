import type { RunReport } from '../engine/runner.js'
import { duration, table } from './table.js'

const OUTCOME: Record<string, string> = {
  changed: 'changed',
  checked: 'passed (read-only)',
  unchanged: 'ok (no change)',
  failed: 'FAILED',
  skipped: 'skipped',
  planned: 'plan',
  'not-run': 'not run',
  interrupted: 'INTERRUPTED',
}

/** The human summary of a runbook run: what happened, what is safe to re-run, how to undo. */
export function renderRunReport(r: RunReport): string {
  const lines: string[] = []
  if (r.result === 'dry-run') {
    lines.push(`Dry run of ${r.runbook} on ${r.environment} (release ${r.release}); nothing was changed.`, '')
    for (const s of r.steps) {
      lines.push(`${s.id} — ${s.title}: ${s.detail ?? ''}`)
      for (const p of s.plan ?? []) lines.push(`    ${p}`)
    }
    return lines.join('\n')
  }
  lines.push(
    table(
      ['phase', 'step', 'result', 'time', 'detail'],
      r.steps.map((s) => [String(s.phase), s.id, OUTCOME[s.outcome] ?? s.outcome, duration(s.durationMs), s.detail ?? '']),
    ),
  )
  lines.push('')
  if (r.result === 'succeeded') {
    // Every step of the run is counted once: changed + checked + already done + skipped = all.
    const total = r.changed + r.checked + r.unchanged + r.skipped
    const skipped = r.skipped ? `, ${r.skipped} skipped` : ''
    lines.push(
      r.changed === 0 && r.checked === 0
        ? `Nothing to do: all ${total} step(s) of ${r.runbook} were already done on ${r.environment}${r.skipped ? ` (${r.skipped} skipped)` : ''}; nothing was changed.`
        : r.changed === 0
          ? `${r.runbook} on ${r.environment} succeeded; nothing was changed: ${r.checked} read-only step(s) checked, ${r.unchanged} already done${skipped} (${total} steps, ${duration(r.durationMs)}).`
          : `${r.runbook} on ${r.environment} succeeded: ${r.changed} step(s) changed, ${r.checked ? `${r.checked} read-only checked, ` : ''}${r.unchanged} already done${skipped} (${total} steps, ${duration(r.durationMs)}).`,
    )
  } else if (r.result === 'interrupted') {
    lines.push(
      `Interrupted at ${r.error?.step ?? 'a step'}; state saved in ${r.stateFile}.`,
      `Re-run the same command to resume; ${r.error?.step ?? 'the step'} will be re-checked before anything runs again.`,
    )
  } else {
    lines.push(`FAILED at ${r.error?.step}: ${r.error?.message}`)
    if (r.error?.next) lines.push(`Next: ${r.error.next}`)
    lines.push(
      `Safe to re-run: finished steps are re-checked and left alone. \`autolytiq status --env ${r.environment}\` shows progress; \`autolytiq log --env ${r.environment}\` the audit trail.`,
    )
  }
  if (r.rollback) lines.push(`Automatic rollback: ${r.rollback}`)
  for (const w of r.warnings) lines.push(`Warning: ${w}`)
  return lines.join('\n')
}
