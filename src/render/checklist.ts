import { resolve } from 'node:path'
import type { ChecklistResult, ItemResult } from '../engine/checklist.js'
import { redact } from '../engine/redact.js'
import { writeFileAtomic } from '../engine/state.js'
import { table } from './table.js'

const BOX: Record<ItemResult['status'], string> = { done: '[x]', failed: '[ ]', open: '[ ]' }
const WORD: Record<ItemResult['status'], string> = { done: 'done', failed: 'FAILED', open: 'OPEN' }

function headline(r: ChecklistResult): string {
  const { done, total, failed, open } = r.counts
  return `${r.complete ? 'COMPLETE' : 'INCOMPLETE'}: ${done}/${total} done${failed ? `, ${failed} failed` : ''}${open ? `, ${open} open` : ''}`
}

function evidence(i: ItemResult): string {
  if (i.kind === 'automatic') return `automatic — ${i.detail}`
  return i.detail
}

/** The checklist as Markdown for the go-live ticket: every plan item, its evidence, who answered and when. */
export function renderChecklistMarkdown(r: ChecklistResult): string {
  const lines = [
    `# ${r.title}: ${r.environment} ${r.release} — ${headline(r)}`,
    '',
    `Evaluated ${r.at}. Automatic items were probed live; manual answers show who gave them and when.`,
    '',
  ]
  for (const section of [...new Set(r.items.map((i) => i.section))]) {
    lines.push(`## ${section}`, '')
    for (const i of r.items.filter((x) => x.section === section))
      lines.push(`- ${BOX[i.status]} ${i.text}${i.status === 'done' ? '' : ` — **${WORD[i.status]}**`}`, `  - ${evidence(i).replace(/\r?\n/g, ' ')}`)
    lines.push('')
  }
  if (r.unasked.length)
    lines.push(`Open manual items (${r.unasked.length}) need a person: run \`autolytiq checklist --env ${r.environment}\` in a terminal.`, '')
  return lines.join('\n')
}

/** Writes the Markdown checklist (redacted, readable by the team) and returns its absolute path. */
export function writeChecklistMarkdown(r: ChecklistResult, file: string): string {
  const path = resolve(file)
  writeFileAtomic(path, redact(renderChecklistMarkdown(r)), 0o644)
  return path
}

/** Terminal view: one row per item, grouped by section order. */
export function renderChecklistText(r: ChecklistResult): string {
  const rows = r.items.map((i) => [WORD[i.status].toUpperCase(), i.section, i.text, i.kind, i.detail])
  const out = [`${r.title} for ${r.environment} ${r.release}`, '', table(['STATUS', 'SECTION', 'ITEM', 'KIND', 'EVIDENCE'], rows), '', headline(r)]
  if (r.unasked.length) out.push(`${r.unasked.length} manual item(s) not asked (no terminal or CI; --yes never answers them): ${r.unasked.join(', ')}`)
  return out.join('\n')
}
