import { z } from 'zod'
import { evaluateChecklist, type ChecklistResult } from '../../engine/checklist.js'
import { StepFailedError } from '../../engine/errors.js'
import type { Step } from '../../engine/types.js'

const params = z.object({}).strict()

function unfinished(r: ChecklistResult): string {
  return r.items
    .filter((i) => i.status !== 'done')
    .map((i) => `${i.id} (${i.status})`)
    .join(', ')
}

/** Plan 8.7 inside the runbook: complete when every item is done; manual items need a person. */
export const checklistGoLive: Step<z.infer<typeof params>> = {
  id: 'checklist.go-live',
  title: 'Go-live checklist',
  description: 'Plan 8.7: every checklist item — automatic ones probed, manual ones asked (who and when recorded); --yes never answers a manual item.',
  danger: 'read',
  params,
  retries: 0,
  async plan() {
    return ['evaluate runbooks/checklist.yaml: run its checks, ask the manual items still open (interactive runs only)']
  },
  async check(ctx) {
    const r = await evaluateChecklist(ctx, { ask: false })
    if (r.complete) return { status: 'done', detail: `${r.counts.total} items done` }
    return { status: 'todo', detail: `${r.counts.done}/${r.counts.total} done; open or failed: ${unfinished(r)}` }
  },
  async run(ctx) {
    const r = await evaluateChecklist(ctx, { ask: true })
    if (!r.complete)
      throw new StepFailedError(
        `go-live checklist incomplete (${r.counts.done}/${r.counts.total}): ${unfinished(r)}`,
        r.unasked.length
          ? `answer the manual items in a terminal: \`autolytiq checklist --env ${ctx.envName}\`, then re-run`
          : `fix the failed items (\`autolytiq checklist --env ${ctx.envName}\` shows the evidence), then re-run`,
      )
    return { complete: true, items: r.counts.total, at: r.at }
  },
}
