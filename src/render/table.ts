/** A plain fixed-width table: readable in a terminal, a pipe or a CI log (no colours on stdout). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.min(80, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i]!
        const text = c.length > w ? `${c.slice(0, w - 1)}…` : c
        return i === cells.length - 1 ? text : text.padEnd(w)
      })
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return ''
  if (ms < 1000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
}
