import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * HS256 JSON Web Tokens (RFC 7519), enough for the stand-in auth-service to issue real tokens and
 * for the other stand-ins to refuse requests without one. Signed with the JWT_SECRET `sandbox up`
 * gives every stand-in (one per sandbox; the services' own is terraform's autolytiq/<env>/jwt, which
 * the stand-ins do not read).
 */
const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

export function signJwt(claims: Record<string, unknown>, secret: string, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000)
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const payload = b64url(JSON.stringify({ iat: now, exp: now + ttlSeconds, ...claims }))
  const signature = b64url(createHmac('sha256', secret).update(`${header}.${payload}`).digest())
  return `${header}.${payload}.${signature}`
}

/** The claims of a valid, unexpired token signed with `secret`; undefined otherwise. */
export function verifyJwt(token: string, secret: string): Record<string, unknown> | undefined {
  const [header, payload, signature] = token.split('.')
  if (!header || !payload || !signature) return undefined
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest()
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string }
    if (h.alg !== 'HS256') return undefined
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
    if (typeof claims.exp === 'number' && claims.exp < Date.now() / 1000) return undefined
    return claims
  } catch {
    return undefined
  }
}
