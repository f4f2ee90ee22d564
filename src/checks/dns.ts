import { Resolver } from 'node:dns/promises'
import type { Check, Context } from '../engine/types.js'

/**
 * A resolver on the environment's DNS servers (the sandbox's local server), else the system's.
 * Read-only, like the HTTP client's lookup; kept here because only checks ask DNS questions.
 */
export function resolverFor(ctx: Context, timeoutMs: number): Resolver {
  const r = new Resolver({ timeout: Math.max(500, Math.floor(timeoutMs / 2)), tries: 2 })
  if (ctx.env.dnsServers?.length) r.setServers(ctx.env.dnsServers)
  return r
}

async function orEmpty<T>(p: Promise<T[]>): Promise<T[]> {
  try {
    return await p
  } catch (err) {
    // "no such record type" is an answer, not an error, for a name that is a CNAME or an A.
    if (['ENODATA', 'ENOTFOUND'].includes((err as NodeJS.ErrnoException).code ?? '')) return []
    throw err
  }
}

const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '')

/**
 * c-ares reports a resolver that is down as a bare code ("ECONNREFUSED"); say what it means so the
 * on-call engineer knows it is the DNS server, not the record, that is the problem.
 */
const RESOLVER_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'the DNS server refused the query (nothing listening: is it running?)',
  ETIMEOUT: 'the DNS server did not answer in time',
  ESERVFAIL: 'the DNS server failed to answer (SERVFAIL)',
  EREFUSED: 'the DNS server refused to answer for this name (REFUSED)',
}
function resolverProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (!code) return (err as Error).message
  return RESOLVER_PROBLEMS[code] ? `${RESOLVER_PROBLEMS[code]} (${code})` : code
}

/** The load balancer recorded by k8s.ingress-address: an ALB hostname, or an IP on some clusters. */
export function ingressAddress(ctx: Context): { hostname?: string; ip?: string } {
  const o = ctx.state.outputs('k8s.ingress-address')
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)
  const hostname = text(o?.hostname)
  return { hostname: hostname ? norm(hostname) : undefined, ip: text(o?.ip) }
}

/** The ALB hostname alone (DNS records point a CNAME or alias at it). */
export function ingressHostname(ctx: Context): string | undefined {
  return ingressAddress(ctx).hostname
}

/**
 * Plan 6.2/6.4: the API name must lead to the ingress's load balancer — either a CNAME to the
 * ALB hostname (external DNS providers) or an alias A record with the same addresses (Route 53).
 */
export function dnsCheck(timeoutMs: number): Check {
  return {
    id: 'dns.api',
    title: 'DNS: API domain points at the ingress load balancer',
    layer: 'edge',
    timeoutMs,
    async run(ctx) {
      const name = ctx.env.apiDomain
      const resolver = resolverFor(ctx, timeoutMs)
      const via = ctx.env.dnsServers?.length ? ` via ${ctx.env.dnsServers.join(', ')}` : ''
      let cnames: string[]
      let addrs: string[]
      try {
        ;[cnames, addrs] = await Promise.all([orEmpty(resolver.resolveCname(name)), orEmpty(resolver.resolve4(name))])
      } catch (err) {
        return { status: 'fail', detail: `${name} could not be resolved${via}: ${resolverProblem(err)}` }
      }
      if (!cnames.length && !addrs.length) return { status: 'fail', detail: `${name} does not resolve${via} (no A or CNAME record)` }
      const { hostname: ingress, ip } = ingressAddress(ctx)
      const answer = cnames.length ? `CNAME ${cnames.map(norm).join(', ')}` : `A ${addrs.join(', ')}`
      if (!ingress && ip) {
        if (addrs.includes(ip)) return { status: 'pass', detail: `${name} → ${addrs.join(', ')}, the ingress address` }
        return { status: 'fail', detail: `${name} → ${answer}, but the ingress is at ${ip}: DNS points at the wrong load balancer` }
      }
      if (!ingress)
        return { status: 'warn', detail: `${name} → ${answer}; ingress address unknown (k8s.ingress-address has not run), so it cannot be compared` }
      if (cnames.some((c) => norm(c) === ingress)) return { status: 'pass', detail: `${name} is a CNAME to the ingress ${ingress}` }
      let ingressAddrs: string[]
      try {
        ingressAddrs = await orEmpty(resolver.resolve4(ingress))
      } catch (err) {
        return { status: 'fail', detail: `the ingress hostname ${ingress} could not be resolved${via}: ${resolverProblem(err)}` }
      }
      if (!ingressAddrs.length) return { status: 'fail', detail: `${name} → ${answer}, but the ingress hostname ${ingress} does not resolve${via}` }
      const same = addrs.length > 0 && addrs.every((a) => ingressAddrs.includes(a))
      if (same) return { status: 'pass', detail: `${name} → ${addrs.join(', ')}, the addresses of the ingress ${ingress}` }
      return {
        status: 'fail',
        detail: `${name} → ${answer}, but the ingress ${ingress} is at ${ingressAddrs.join(', ')}: DNS points at the wrong load balancer`,
      }
    },
  }
}
