import type { ChecklistResult } from '../engine/checklist.js'
import type { ServiceRollbackResult } from '../rollback/service.js'
import type { RunSummary } from './summary.js'

const images = (i: Record<string, string>): string => Object.values(i).join(', ')

/** `rollback --service` / `--image-tag`: nothing to tell for a dry run or when nothing needed changing. */
export function serviceRollbackSummary(r: ServiceRollbackResult, release: string): RunSummary | undefined {
  if (r.result === 'dry-run' || r.result === 'no-change') return undefined
  const changed = r.changes.filter((c) => c.changed)
  const failedVerification = r.verification.find((v) => !v.ok)
  return {
    command: 'rollback',
    environment: r.environment,
    release,
    result: r.result === 'rolled-back' ? 'succeeded' : r.result,
    durationMs: r.durationMs,
    runId: r.runId,
    outcome: changed.length ? changed.map((c) => `${c.service}: ${images(c.before)} → ${images(c.after)}`).join('; ') : undefined,
    failedStep: failedVerification ? `verify ${failedVerification.service}` : r.changes.find((c) => c.error)?.service,
    reason: r.error?.message,
  }
}

/** `checklist`: complete or not, the counts, the first item that failed, the exported report. */
export function checklistSummary(r: ChecklistResult & { exportFile?: string }, durationMs: number): RunSummary {
  const failed = r.items.find((i) => i.status === 'failed') ?? r.items.find((i) => i.status === 'open')
  return {
    command: 'checklist',
    environment: r.environment,
    release: r.release,
    result: r.complete ? 'succeeded' : 'failed',
    durationMs,
    outcome: `${r.counts.done}/${r.counts.total} items done, ${r.counts.failed} failed, ${r.counts.open} open`,
    failedStep: r.complete ? undefined : failed?.id,
    reason: r.complete || !failed ? undefined : `${failed.status}: ${failed.detail}`,
    report: r.exportFile,
  }
}
