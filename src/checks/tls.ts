import type { PeerCertificate } from 'node:tls'
import type { Check, CheckStatus } from '../engine/types.js'
import { apiBaseUrl, describeRequestError } from './http.js'

export interface ExpiryThresholds {
  /** Fewer days left than this: warn (renewal should already have happened). */
  warnDays: number
  /** Fewer days left than this: fail (an outage is days away). */
  failDays: number
}

export const DEFAULT_EXPIRY: ExpiryThresholds = { warnDays: 30, failDays: 7 }

const DAY_MS = 86_400_000

function days(ms: number): string {
  const n = Math.floor(ms / DAY_MS)
  return n === 1 ? '1 day' : `${n} days`
}

/** Under a week, hours matter: "4 d 23 h" rather than a rounded-down "4 days". */
function timeLeft(ms: number): string {
  const hours = Math.floor(ms / 3_600_000)
  return `${Math.floor(hours / 24)} d ${hours % 24} h`
}

/** Chain, host name and expiry of a presented certificate, judged in that order. */
export function judgeCertificate(
  cert: PeerCertificate | undefined,
  authorizationError: string | undefined,
  host: string,
  now: number,
  t: ExpiryThresholds = DEFAULT_EXPIRY,
): { status: CheckStatus; detail: string } {
  if (!cert || !cert.valid_to) return { status: 'fail', detail: `${host} presented no certificate` }
  const notAfter = Date.parse(cert.valid_to)
  const daysLeft = Math.floor((notAfter - now) / DAY_MS)
  const until = new Date(notAfter).toISOString().slice(0, 10)
  const names = cert.subjectaltname?.replace(/DNS:/g, '') ?? cert.subject?.CN ?? '?'
  const issuer = cert.issuer?.CN ?? cert.issuer?.O ?? 'unknown issuer'
  switch (authorizationError) {
    case undefined:
      break
    case 'CERT_HAS_EXPIRED':
      return { status: 'fail', detail: `certificate for ${host} expired on ${until} (${days(now - notAfter)} ago)` }
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { status: 'fail', detail: `certificate is for ${names}, not ${host} (wrong host)` }
    case 'CERT_NOT_YET_VALID':
      return { status: 'fail', detail: `certificate for ${host} is not valid before ${cert.valid_from}` }
    default:
      return { status: 'fail', detail: `certificate chain for ${host} is not trusted: ${authorizationError} (issuer: ${issuer})` }
  }
  if (notAfter <= now) return { status: 'fail', detail: `certificate for ${host} expired on ${until}` }
  const summary = `valid until ${until} (${daysLeft} days), issuer ${issuer}, names ${names}`
  if (daysLeft < t.failDays) return { status: 'fail', detail: `certificate for ${host} expires in ${timeLeft(notAfter - now)} (${until}); renew it now` }
  if (daysLeft < t.warnDays) return { status: 'warn', detail: `certificate for ${host} expires in ${daysLeft} days (${until}); renewal is overdue` }
  return { status: 'pass', detail: summary }
}

/**
 * Plan 6.4: the certificate the API actually presents. Every run makes a full handshake on a
 * connection of its own (no pooled connection, no resumed session: the certificate served now is
 * the one judged). The connection is not dropped on a bad certificate so the check can say *what*
 * is wrong (expired, wrong host, untrusted chain) instead of a bare handshake error.
 */
export function tlsCheck(timeoutMs: number, thresholds: ExpiryThresholds = DEFAULT_EXPIRY): Check {
  return {
    id: 'tls.api',
    title: 'TLS certificate of the API (chain, host name, expiry)',
    layer: 'edge',
    timeoutMs,
    async run(ctx, signal) {
      const base = apiBaseUrl(ctx.env)
      const host = new URL(base).hostname
      if (!base.startsWith('https:')) return { status: 'fail', detail: `the API address ${base} is not HTTPS` }
      const url = `${base}/health`
      try {
        const res = await ctx.clients.http.request({ url, timeoutMs, signal, rejectUnauthorized: false })
        // The client never offers a session to this request; a resumed one would carry no certificate to judge.
        if (res.sessionReused)
          return { status: 'fail', detail: `${host} resumed an earlier TLS session: the certificate was not presented, so it was not judged` }
        return judgeCertificate(res.certificate, res.authorizationError, host, Date.now(), thresholds)
      } catch (err) {
        return { status: 'fail', detail: describeRequestError(err, url, timeoutMs) }
      }
    },
  }
}
