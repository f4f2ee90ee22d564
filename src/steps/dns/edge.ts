import { z } from 'zod'
import type { Catalog } from '../../config/catalog.js'
import { dnsCheck } from '../../checks/dns.js'
import { serviceHealthCheck } from '../../checks/http.js'
import { redirectCheck } from '../../checks/redirect.js'
import { runChecks } from '../../checks/run.js'
import { tlsCheck } from '../../checks/tls.js'
import type { Check, Context, Step } from '../../engine/types.js'
import { pollUntil } from '../aws/util.js'

const params = z
  .object({
    /** How long to wait for the answer to become right (DNS propagation takes 5-10 minutes in the plan). */
    timeoutSeconds: z.number().int().min(1).max(7200).default(900),
    intervalSeconds: z.number().int().min(1).max(300).default(5),
    /** Per-probe time limit. */
    probeTimeoutMs: z.number().int().min(100).default(5000),
  })
  .strict()
type Params = z.infer<typeof params>

/** The probes pass now? Read-only: the checks verify also runs. */
async function probe(ctx: Context, checks: Check[]): Promise<{ ok: boolean; detail: string }> {
  const reports = await runChecks(ctx, checks)
  const bad = reports.filter((r) => r.status === 'fail')
  return { ok: bad.length === 0, detail: (bad.length ? bad : reports).map((r) => `${r.title}: ${r.detail}`).join('; ') }
}

/** A read-only step that waits (poll with deadline) until `checks` pass. */
function waitStep(
  id: string,
  title: string,
  description: string,
  plan: (ctx: Context) => string[],
  checks: (p: Params, catalog: Catalog) => Check[],
): Step<Params> {
  return {
    id,
    title,
    description,
    danger: 'read',
    params,
    timeoutMs: 2 * 60 * 60_000,
    async plan(ctx) {
      return plan(ctx)
    },
    async check(ctx, p) {
      const r = await probe(ctx, checks(p, ctx.catalog))
      return r.ok ? { status: 'done', detail: r.detail } : { status: 'todo', detail: r.detail }
    },
    async run(ctx, p) {
      await pollUntil(ctx, {
        what: title,
        timeoutMs: p.timeoutSeconds * 1000,
        intervalMs: p.intervalSeconds * 1000,
        next: `re-run to keep waiting: \`autolytiq deploy --env ${ctx.envName} --from ${id}\``,
        probe: async () => {
          const r = await probe(ctx, checks(p, ctx.catalog))
          return { done: r.ok, progress: r.detail }
        },
      })
    },
  }
}

/** Plan 6.4 `dig api... +short`: the API name resolves to the ingress's load balancer. */
export const dnsPropagation = waitStep(
  'dns.propagation',
  'DNS answers with the load balancer',
  "Plan 6.4 (dig): waits until the API name resolves, on the environment's resolvers, to the Ingress's load balancer (CNAME to it, or the same addresses).",
  (ctx) => [
    `resolve A/CNAME ${ctx.env.apiDomain}${ctx.env.dnsServers?.length ? ` via ${ctx.env.dnsServers.join(', ')}` : ''} until it leads to the ingress load balancer`,
  ],
  (p) => [dnsCheck(p.probeTimeoutMs)],
)

/** Plan 6.4-6.5: valid certificate, /health answering over HTTPS, HTTP redirecting to HTTPS. */
export const tlsVerify = waitStep(
  'tls.verify',
  'HTTPS with a valid certificate, HTTP redirected',
  'Plan 6.4-6.5 (curl -v https://api/health, openssl s_client, curl -I http://): the API presents a trusted certificate for its name that is not about to expire, GET /health answers 200 over HTTPS, and plain HTTP answers a permanent redirect to HTTPS.',
  (ctx) => [`GET https://${ctx.env.apiDomain}/health (certificate chain, host name, expiry)`, `GET http://${ctx.env.apiDomain}/health expecting 301 to https`],
  (p, catalog) => [
    tlsCheck(p.probeTimeoutMs),
    redirectCheck(p.probeTimeoutMs),
    ...catalog.services.filter((s) => s.name === 'api-gateway').map((s) => serviceHealthCheck(s, p.probeTimeoutMs)),
  ],
)
