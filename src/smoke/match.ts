/**
 * Expectations of catalog smoke flows: `field.path: value`. The matchers $string, $number,
 * $array, $nonEmptyArray and $jwt check a shape; anything else must be equal.
 */

/** Reads `a.b.0.c` from a parsed JSON body. */
export function getPath(body: unknown, path: string): unknown {
  let cur: unknown = body
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

function base64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * Why a value is not a usable JWT, or undefined when it is one: three base64url parts, a header
 * naming a real signing algorithm, a JSON payload, and an `exp` (if any) in the future.
 * The signature cannot be checked here (the key is the service's secret); the shape and the
 * expiry are what a broken auth-service gets wrong.
 */
export function jwtProblem(value: unknown, now = Date.now()): string | undefined {
  if (typeof value !== 'string') return `expected a JWT, got ${describeValue(value)}`
  const parts = value.split('.')
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[2]) return 'expected a JWT (header.payload.signature)'
  const header = base64urlJson(parts[0]!)
  if (!header || typeof header.alg !== 'string') return 'JWT header is not JSON with an "alg"'
  if (header.alg.toLowerCase() === 'none') return 'JWT is unsigned (alg "none")'
  const payload = base64urlJson(parts[1]!)
  if (!payload) return 'JWT payload is not JSON'
  if (typeof payload.exp === 'number' && payload.exp * 1000 <= now) return `JWT expired at ${new Date(payload.exp * 1000).toISOString()}`
  return undefined
}

/** One mismatch per expectation that does not hold, phrased "path: expected X, got Y". */
export function mismatches(expect: Record<string, unknown>, body: unknown, now = Date.now()): string[] {
  const out: string[] = []
  for (const [path, want] of Object.entries(expect)) {
    const got = getPath(body, path)
    const fail = (what: string): void => void out.push(`${path}: expected ${what}, got ${describeValue(got)}`)
    switch (want) {
      case '$string':
        if (typeof got !== 'string' || !got) fail('a non-empty string')
        break
      case '$number':
        if (typeof got !== 'number' || !Number.isFinite(got)) fail('a number')
        break
      case '$array':
        if (!Array.isArray(got)) fail('an array')
        break
      case '$nonEmptyArray':
        if (!Array.isArray(got) || !got.length) fail('a non-empty array')
        break
      case '$jwt': {
        const problem = jwtProblem(got, now)
        if (problem) out.push(`${path}: ${problem}`)
        break
      }
      default:
        if (!equal(got, want)) fail(describeValue(want))
    }
  }
  return out
}

/** Deep equality for JSON values; numbers allow floating-point noise (30000 * 0.095 is not exactly 2850). */
function equal(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < 1e-6
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]))
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  }
  return a === b
}
