/** `${name}` placeholders in catalog smoke flows (paths, bodies, expectations). */
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export type Vars = Record<string, string | number>

/** A flow needs a value an earlier flow should have saved (it failed, or ran out of order). */
export class MissingVariable extends Error {
  constructor(readonly variable: string) {
    super(`\${${variable}} is not set`)
  }
}

/** Names used anywhere in a value, for plan() and for skipping flows whose inputs are missing. */
export function variablesIn(value: unknown): string[] {
  const found = new Set<string>()
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(PLACEHOLDER)) found.add(m[1]!)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(value)
  return [...found]
}

/**
 * Replaces placeholders deeply. A string that is exactly one placeholder takes the variable's
 * own type (a saved number stays a number); embedded placeholders are spliced in as text.
 */
export function substitute<T>(value: T, vars: Vars, encode: (s: string) => string = (s) => s): T {
  const one = (s: string): unknown => {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s)
    if (whole) {
      if (!(whole[1]! in vars)) throw new MissingVariable(whole[1]!)
      return typeof vars[whole[1]!] === 'number' ? vars[whole[1]!] : encode(String(vars[whole[1]!]))
    }
    return s.replace(PLACEHOLDER, (_m, name: string) => {
      if (!(name in vars)) throw new MissingVariable(name)
      return encode(String(vars[name]))
    })
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return one(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(value) as T
}
