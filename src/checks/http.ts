import type { Environment } from '../config/environments.js'
import type { Service } from '../config/catalog.js'
import type { Check } from '../engine/types.js'

/** Where the API answers: the sandbox overrides the address, real environments use https://apiDomain. */
export function apiBaseUrl(env: Environment): string {
  return (env.apiUrl ?? `https://${env.apiDomain}`).replace(/\/+$/, '')
}

/**
 * The plain-HTTP address the redirect is checked on. Swapping the scheme of a sandbox URL would
 * keep its TLS port, so anything but the default port needs `apiHttpUrl`.
 */
export function apiHttpUrl(env: Environment): string {
  if (env.apiHttpUrl) return env.apiHttpUrl.replace(/\/+$/, '')
  return `http://${new URL(apiBaseUrl(env)).hostname}`
}

const TLS_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate is not valid for this host name',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed (not trusted)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the TLS certificate chain ends in an untrusted self-signed CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate chain is incomplete or not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the TLS certificate issuer is not trusted (missing CA or intermediate)',
  CERT_NOT_YET_VALID: 'the TLS certificate is not valid yet',
}

/** Why a request failed, in words an on-call engineer can act on (never a stack trace). */
export function describeRequestError(err: unknown, url: string, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { hostname?: string }
  const u = new URL(url)
  const port = u.port || (u.protocol === 'https:' ? '443' : '80')
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${u.hostname}:${port} (nothing listening)`
    case 'ENOTFOUND':
    case 'ENODATA':
    case 'ESERVFAIL':
      return `${u.hostname} does not resolve (${e.code})`
    case 'ETIMEDOUT':
    case 'ABORT_ERR':
      return `no response within ${timeoutMs} ms from ${url}`
    case 'ECONNRESET':
      return `connection reset by ${u.hostname}:${port}`
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${u.hostname}:${port} is unreachable from this machine (${e.code})`
  }
  if (e.code && TLS_CODES[e.code]) return `${TLS_CODES[e.code]} (${e.code}): ${e.message}`
  return `${url}: ${e.message ?? String(err)}`
}

const HEALTHY = /^(ok|healthy|up|pass|green|serving)$/i

/**
 * A health endpoint is healthy when it answers 200 and its body says so: JSON with a healthy
 * `status` (and no failing entry under `checks`) or a plain "ok". A 200 carrying an HTML page
 * is a misrouted ingress serving a catch-all page, which is exactly what this must catch.
 */
export function healthVerdict(status: number, body: string): { healthy: boolean; detail: string } {
  const snippet = body.replace(/\s+/g, ' ').trim().slice(0, 120)
  if (status !== 200) return { healthy: false, detail: `HTTP ${status}${snippet ? `: ${snippet}` : ''}` }
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    if (HEALTHY.test(body.trim())) return { healthy: true, detail: `"${body.trim()}"` }
    return { healthy: false, detail: `HTTP 200 but the body is not a health answer: ${snippet || '(empty)'}` }
  }
  const obj = (json ?? {}) as { status?: unknown; checks?: Record<string, unknown> }
  if (typeof obj.status !== 'string') return { healthy: false, detail: `HTTP 200 but the body has no "status": ${snippet}` }
  if (!HEALTHY.test(obj.status)) return { healthy: false, detail: `reports status "${obj.status}"` }
  const failing = Object.entries(obj.checks ?? {})
    .map(([name, v]) => [name, typeof v === 'string' ? v : (v as { status?: unknown })?.status] as const)
    .filter(([, s]) => typeof s === 'string' && !HEALTHY.test(s))
  if (failing.length) return { healthy: false, detail: `status "${obj.status}" but ${failing.map(([n, s]) => `${n} is "${s}"`).join(', ')}` }
  return { healthy: true, detail: `status "${obj.status}"` }
}

/** Plan 8.1: GET <api>/<healthPath> through the public entry point, as a user's request travels. */
export function serviceHealthCheck(service: Service, timeoutMs: number): Check {
  return {
    id: `health.${service.name}`,
    title: `${service.name} health (GET ${service.healthPath})`,
    layer: 'services',
    services: [service.name],
    timeoutMs,
    async run(ctx, signal) {
      const url = `${apiBaseUrl(ctx.env)}${service.healthPath}`
      let res
      try {
        res = await ctx.clients.http.request({ url, timeoutMs, signal })
      } catch (err) {
        return { status: 'fail', detail: describeRequestError(err, url, timeoutMs) }
      }
      const v = healthVerdict(res.status, res.body)
      return { status: v.healthy ? 'pass' : 'fail', detail: `${v.detail} (${res.ms} ms)` }
    },
  }
}
