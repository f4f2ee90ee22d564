import type { Check, CheckStatus } from '../engine/types.js'
import { apiHttpUrl, describeRequestError } from './http.js'

/** What a plain-HTTP answer says about the redirect (plan 6.5: "this should return a 301"). */
export function judgeRedirect(status: number, location: string | undefined, host: string): { status: CheckStatus; detail: string } {
  const isRedirect = [301, 302, 303, 307, 308].includes(status)
  if (!isRedirect) return { status: 'fail', detail: `no redirect: plain HTTP answered ${status} instead of 301/308 to https` }
  if (!location) return { status: 'fail', detail: `HTTP ${status} without a Location header` }
  let target: URL
  try {
    target = new URL(location, `http://${host}`)
  } catch {
    return { status: 'fail', detail: `HTTP ${status} to an invalid Location "${location}"` }
  }
  if (target.protocol !== 'https:') return { status: 'fail', detail: `HTTP ${status} redirects to ${location}, not to https` }
  if (status === 301 || status === 308) return { status: 'pass', detail: `${status} → ${location}` }
  return { status: 'warn', detail: `${status} → ${location} is a temporary redirect; the ALB ssl-redirect should answer 301` }
}

/** Plan 6.5: `curl -I http://api.../health` must answer a permanent redirect to https. */
export function redirectCheck(timeoutMs: number): Check {
  return {
    id: 'http.redirect',
    title: 'HTTP → HTTPS redirect',
    layer: 'edge',
    timeoutMs,
    async run(ctx, signal) {
      const url = `${apiHttpUrl(ctx.env)}/health`
      try {
        // Node's http client never follows redirects, so the first answer is what is judged.
        const res = await ctx.clients.http.request({ url, timeoutMs, signal })
        const location = Array.isArray(res.headers.location) ? res.headers.location[0] : res.headers.location
        return judgeRedirect(res.status, location, new URL(url).host)
      } catch (err) {
        return { status: 'fail', detail: `no redirect: ${describeRequestError(err, url, timeoutMs)}` }
      }
    },
  }
}
