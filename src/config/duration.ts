import { UserError } from '../engine/errors.js'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** "90s", "5m", "24h", "7d" (or bare seconds) -> seconds; `flag` names the option in the error. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim())
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's']! : NaN
  if (!(seconds > 0)) throw new UserError(`${flag} "${text}" is not a duration`, `use a number with a unit, for example ${flag} 5m, 90s, 24h or 7d`)
  return Math.round(seconds)
}

/** 300 -> "5m", 86400 -> "24h", 90 -> "90s": PromQL ranges and human text alike. */
export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600}h`
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60}m`
  return `${seconds}s`
}
