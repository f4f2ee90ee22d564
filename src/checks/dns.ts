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

/** The ALB hostname recorded by k8s.ingress-address, if that step has run. */
export function ingressHostname(ctx: Context): string | undefined {
  const h = ctx.state.outputs('k8s.ingress-address')?.hostname
  return typeof h === 'string' && h ? norm(h) : undefined
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
        return { status: 'fail', detail: `${name} could not be resolved${via}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
      }
      if (!cnames.length && !addrs.length) return { status: 'fail', detail: `${name} does not resolve${via} (no A or CNAME record)` }
      const ingress = ingressHostname(ctx)
      const answer = cnames.length ? `CNAME ${cnames.map(norm).join(', ')}` : `A ${addrs.join(', ')}`
      if (!ingress)
        return { status: 'warn', detail: `${name} → ${answer}; ingress hostname unknown (k8s.ingress-address has not run), so it cannot be compared` }
      if (cnames.some((c) => norm(c) === ingress)) return { status: 'pass', detail: `${name} is a CNAME to the ingress ${ingress}` }
      let ingressAddrs: string[]
      try {
        ingressAddrs = await orEmpty(resolver.resolve4(ingress))
      } catch (err) {
        return { status: 'fail', detail: `the ingress hostname ${ingress} could not be resolved${via}: ${(err as NodeJS.ErrnoException).code}` }
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
