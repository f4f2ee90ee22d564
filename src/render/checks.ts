import type { CheckReport } from '../checks/run.js'
import { worst } from '../checks/run.js'
import { duration } from './table.js'

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const

/** Check results grouped by layer (in the order given), failures first within a layer, each FAIL with its next command. */
export function renderChecks(checks: CheckReport[], heading: string, annotate?: (c: CheckReport) => string[]): string {
  const lines = [heading, '']
  const layers = [...new Set(checks.map((c) => c.layer))]
  for (const layer of layers) {
    const group = checks.filter((c) => c.layer === layer)
    lines.push(`${layer} (${MARK[worst(group)]})`)
    for (const c of [...group].sort((a, b) => rank(a.status) - rank(b.status))) {
      lines.push(`  ${MARK[c.status]}  ${c.title} — ${c.detail} [${duration(c.ms)}]`)
      for (const extra of annotate?.(c) ?? []) lines.push(`        ${extra}`)
      if (c.status === 'fail' && c.next) lines.push(`        Next: ${c.next}`)
    }
    lines.push('')
  }
  const counts = ['pass', 'warn', 'fail'].map((s) => `${checks.filter((c) => c.status === s).length} ${s}`).join(', ')
  lines.push(`Result: ${MARK[worst(checks)]} (${counts})`)
  return lines.join('\n')
}

function rank(s: string): number {
  return s === 'fail' ? 0 : s === 'warn' ? 1 : 2
}
