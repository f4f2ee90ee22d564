const BARS = '▁▂▃▄▅▆▇█'

/**
 * A one-line trend (▁▂▅█) scaled to its own maximum, or to `ceiling` when given so a flat line of
 * small values stays low. A gap (no data at that point) is a space.
 */
export function sparkline(values: (number | null)[], ceiling?: number): string {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v))
  if (!present.length) return ''
  const max = Math.max(ceiling ?? 0, ...present)
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' '
      if (max <= 0) return BARS[0]
      return BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))]
    })
    .join('')
}
