import type { CheckReport } from '../checks/run.js'
import type { PodEvidence } from '../checks/pod-evidence.js'
import { ms, pct, type TrafficData } from '../checks/traffic.js'
import type { WhatChanged } from '../changes/what-changed.js'
import { sparkline } from './sparkline.js'

/** The traffic evidence a traffic check carries, when it has any. */
export function trafficData(c: CheckReport): TrafficData | undefined {
  return c.layer === 'traffic' && c.data && 'service' in c.data ? (c.data as unknown as TrafficData) : undefined
}

/** One line per traffic check: the window's trend, so a spike or a cliff shows at a glance. */
export function trendLine(c: CheckReport): string[] {
  const t = trafficData(c)?.trend
  if (!t || !t.rate.some((v) => v !== null)) return []
  const d = trafficData(c)!
  // The 5xx line is scaled to the fail threshold, so a healthy 0.1 % stays flat instead of filling the box.
  return [
    `trend ${t.at.length - 1} steps: rate ${sparkline(t.rate)}  5xx ${sparkline(t.errorRatio, d.thresholds.errorRatioFail)}  p99 ${sparkline(t.p99, d.thresholds.p99FailSeconds / 10)}`,
  ]
}

const when = (iso: string): string => `${iso.slice(0, 19).replace('T', ' ')}Z`

export function changeRows(w: WhatChanged): string[][] {
  return w.changes.map((c) => [when(c.at), c.source, c.who, c.what])
}

export function unreadableSources(w: WhatChanged): string[] {
  return w.sources.filter((s) => !s.ok).map((s) => `${s.source}: ${s.detail}`)
}

/** "What changed" for the terminal: newest first, who/what/when, and the sources that could not be read. */
export function renderChanges(w: WhatChanged): string[] {
  const lines = [`What changed since ${when(w.since)} (newest first)`]
  // The last column is never cut: the image before → after is the point of the row.
  const rows = changeRows(w)
  const width = [0, 1, 2].map((i) => Math.max(['When (UTC)', 'Source', 'Who'][i]!.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]): string =>
    `  ${r
      .slice(0, 3)
      .map((c, i) => c.padEnd(width[i]!))
      .join('  ')}  ${r[3]}`
  if (rows.length) lines.push(line(['When (UTC)', 'Source', 'Who', 'What']), ...rows.map(line))
  else lines.push('  nothing recorded in this window')
  for (const u of unreadableSources(w)) lines.push(`  not read — ${u}`)
  return lines
}

export function describeTermination(p: PodEvidence): string {
  const t = p.lastTermination
  if (!t) return 'no termination recorded'
  return `last exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${t.finishedAt ? ` at ${when(t.finishedAt)}` : ''}${t.message ? `: ${t.message}` : ''}`
}

/** Failing pods for the terminal: problem, last exit, events, the last log lines. */
export function renderPods(pods: PodEvidence[]): string[] {
  const lines = ['Failing pods']
  for (const p of pods) {
    lines.push(`  ${p.pod}${p.service ? ` (${p.service})` : ''}: ${p.problem}`, `    ${describeTermination(p)}`)
    for (const e of p.events) lines.push(`    event: ${e}`)
    if (p.logs.length) {
      lines.push(`    last ${p.logs.length} log line(s) of ${p.container}:`)
      for (const l of p.logs) lines.push(`      | ${l}`)
    } else lines.push(`    logs: ${p.logsUnavailable ?? 'empty'}`)
  }
  return lines
}

/** A Mermaid xychart of one signal over the window, with the baseline as a second, flat line. */
function chart(title: string, unit: string, at: number[], values: (number | null)[], baseline: number | undefined, scale: number): string[] {
  const xs = at.map((t) => `"${new Date(t * 1000).toISOString().slice(11, 16)}"`)
  const ys = values.map((v) => (v === null ? 0 : +(v * scale).toFixed(3)))
  const top = Math.max(...ys, baseline === undefined ? 0 : baseline * scale, 0.001)
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title}"`,
    `  x-axis [${xs.join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${+(top * 1.2).toFixed(3)}`,
    `  line [${ys.join(', ')}]`,
    ...(baseline === undefined ? [] : [`  line [${ys.map(() => +(baseline * scale).toFixed(3)).join(', ')}]`]),
    '```',
  ]
}

/** Report charts for a service with a traffic problem: request rate, 5xx ratio and p99 against the baseline. */
export function trafficCharts(c: CheckReport): string[] {
  const d = trafficData(c)
  if (!d?.trend) return []
  const t = d.trend
  const base = d.baseline
  const legend = base ? `second line: ${base.source}` : 'no baseline recorded'
  return [
    `#### ${d.service} — ${c.status.toUpperCase()}`,
    '',
    c.detail,
    '',
    `Rate, 5xx ratio and p99 over the window (${legend}; a gap with no requests is drawn as 0).`,
    '',
    ...chart(`${d.service} requests per second`, 'req/s', t.at, t.rate, base?.rate, 1),
    '',
    ...chart(`${d.service} 5xx ratio (fail above ${pct(d.thresholds.errorRatioFail)})`, '%', t.at, t.errorRatio, base?.errorRatio, 100),
    '',
    ...chart(`${d.service} p99 latency (fail above ${ms(d.thresholds.p99FailSeconds)})`, 'ms', t.at, t.p99, base?.p99, 1000),
    '',
  ]
}
