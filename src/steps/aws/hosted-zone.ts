import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { resolverFor } from '../../checks/dns.js'
import { requireAccount } from './account.js'
import { findHostedZone, sameName, type HostedZone } from './route53.js'

const params = z.object({}).strict()

/** Route 53's own TTL for NS records. */
const NS_TTL = 172800

const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '')

/**
 * The closest public zone above `domain` in this account (staging.autolytiq.com -> autolytiq.com),
 * or undefined when the parent lives elsewhere (another account, another DNS provider, the registrar).
 */
async function parentZone(ctx: Context, domain: string): Promise<HostedZone | undefined> {
  const labels = norm(domain).split('.')
  for (let i = 1; i < labels.length - 1; i++) {
    const zone = await findHostedZone(ctx, labels.slice(i).join('.'))
    if (zone) return zone
  }
  return undefined
}

/** The NS values the parent zone publishes for `domain` (empty when there is no delegation). */
async function delegationInParent(ctx: Context, parent: HostedZone, domain: string): Promise<string[]> {
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  const r = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: parent.id, StartRecordName: domain, StartRecordType: 'NS', MaxItems: 1 }))
  const set = r.ResourceRecordSets?.[0]
  if (!set || !sameName(set.Name ?? '', domain) || set.Type !== 'NS') return []
  return (set.ResourceRecords ?? []).map((v) => norm(v.Value ?? ''))
}

/** What resolvers answer for `domain`'s NS: the delegation as the world sees it (ACM's validators included). */
async function delegationInDns(ctx: Context, domain: string): Promise<{ ns: string[]; error?: string }> {
  try {
    return { ns: (await resolverFor(ctx, 5_000).resolveNs(domain)).map(norm) }
  } catch (err) {
    const code = (err as { code?: string }).code ?? ''
    if (['ENOTFOUND', 'ENODATA', 'NXDOMAIN'].includes(code)) return { ns: [] }
    return { ns: [], error: `${code || (err as Error).message}` }
  }
}

const covers = (have: string[], zone: HostedZone): boolean => zone.nameServers.every((n) => have.includes(norm(n)))

/** In the sandbox only a configured resolver (the sandbox's DNS server) can answer for its made-up domain. */
const canAskDns = (ctx: Context): boolean => !ctx.env.sandbox || Boolean(ctx.env.dnsServers?.length)

interface Delegation {
  ok: boolean
  /** The parent zone in this account, when there is one (then run() fixes the delegation itself). */
  parent?: HostedZone
  detail: string
}

/**
 * Is the zone reachable from the DNS tree? Without NS records in the parent, ACM's DNS validation
 * can never see the validation records: acm.certificate waited 30 minutes and then failed.
 */
async function delegation(ctx: Context, zone: HostedZone): Promise<Delegation> {
  const domain = ctx.env.domain
  const parent = await parentZone(ctx, domain)
  if (parent) {
    const ns = await delegationInParent(ctx, parent, domain)
    return covers(ns, zone)
      ? { ok: true, parent, detail: `delegated from ${parent.name} (${parent.id})` }
      : { ok: false, parent, detail: `${parent.name} (${parent.id}) has ${ns.length ? `NS ${ns.join(', ')}` : 'no NS records'} for ${domain}` }
  }
  if (!canAskDns(ctx)) return { ok: true, detail: 'delegation not checked (sandbox without a DNS server)' }
  const dns = await delegationInDns(ctx, domain)
  if (covers(dns.ns, zone)) return { ok: true, detail: `delegated: resolvers answer NS ${dns.ns.join(', ')}` }
  return {
    ok: false,
    detail: dns.error
      ? `NS lookup of ${domain} failed (${dns.error})`
      : `resolvers answer ${dns.ns.length ? `NS ${dns.ns.join(', ')}` : 'no NS records'} for ${domain}`,
  }
}

/** The exact records the owner of the parent must create, for the failure message. */
function recordsToCreate(ctx: Context, zone: HostedZone): string {
  const labels = norm(ctx.env.domain).split('.')
  const where = labels.length > 2 ? `in the zone of ${labels.slice(1).join('.')} (another account or DNS provider)` : 'at the registrar of the domain'
  return `${where}: ${zone.nameServers.map((n) => `${norm(ctx.env.domain)}. ${NS_TTL} IN NS ${norm(n)}.`).join('; ')}`
}

async function upsertDelegation(ctx: Context, parent: HostedZone, zone: HostedZone): Promise<void> {
  const { ChangeResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  ctx.log(`delegating ${ctx.env.domain} from ${parent.name}: UPSERT NS ${zone.nameServers.join(', ')}`)
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: parent.id,
      ChangeBatch: {
        Comment: `autolytiq ${ctx.envName}: delegate ${ctx.env.domain}`,
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: ctx.env.domain, Type: 'NS', TTL: NS_TTL, ResourceRecords: zone.nameServers.map((n) => ({ Value: n })) },
          },
        ],
      },
    }),
  )
}

/** Plan 1.3 option A: the public hosted zone of the domain, created only after confirmation, and delegated. */
export const dnsHostedZone: Step<z.infer<typeof params>> = {
  id: 'dns.hosted-zone',
  title: 'Route 53 hosted zone for the domain',
  description:
    "Plan 1.3: finds the public Route 53 hosted zone of the domain (creates it only after confirmation) and makes sure it is delegated: a subdomain's NS records are UPSERTed in the parent zone when that zone is in the same account; otherwise the NS answer of the DNS is checked, failing before ACM waits with the exact records to create.",
  danger: 'mutating',
  params,
  async plan(ctx) {
    return [
      `route53 ListHostedZonesByName ${ctx.env.domain} and each parent domain`,
      `route53 CreateHostedZone ${ctx.env.domain} (only if missing, after confirmation)`,
      `route53 ChangeResourceRecordSets UPSERT ${ctx.env.domain} NS in the parent zone (only when the parent zone is in this account and lacks them); otherwise DNS NS lookup of ${ctx.env.domain}`,
    ]
  },
  async check(ctx) {
    const zone = await findHostedZone(ctx, ctx.env.domain)
    if (!zone) return { status: 'todo', detail: `no public hosted zone for ${ctx.env.domain}` }
    const d = await delegation(ctx, zone)
    if (!d.ok) return { status: 'todo', detail: `${zone.id} is not delegated: ${d.detail}` }
    return {
      status: 'done',
      detail: `${zone.id}; name servers ${zone.nameServers.join(', ')}; ${d.detail}`,
      outputs: { hostedZoneId: zone.id, nameServers: zone.nameServers },
    }
  },
  async run(ctx) {
    await requireAccount(ctx)
    // Re-probe: after a crash between create and save, the zone exists and must not be doubled.
    let zone = await findHostedZone(ctx, ctx.env.domain)
    const created = !zone
    if (!zone) {
      const { CreateHostedZoneCommand } = await import('@aws-sdk/client-route-53')
      const r53 = await ctx.clients.aws.route53()
      ctx.log(`creating hosted zone ${ctx.env.domain}`)
      await r53.send(
        new CreateHostedZoneCommand({
          Name: ctx.env.domain,
          CallerReference: `autolytiq-${ctx.envName}-${ctx.runId}`,
          HostedZoneConfig: { Comment: `autolytiq ${ctx.envName}`, PrivateZone: false },
        }),
      )
      zone = await findHostedZone(ctx, ctx.env.domain)
      if (!zone) throw new StepFailedError(`created hosted zone ${ctx.env.domain} but cannot find it again`)
    }
    ctx.log(`name servers for ${ctx.env.domain}: ${zone.nameServers.join(', ')}`)
    const d = await delegation(ctx, zone)
    // The sandbox's zone is served by its own DNS on loopback: there is no registrar to tell.
    if (created && !d.parent && !ctx.env.sandbox) ctx.warn(`set these name servers for ${ctx.env.domain} at your registrar: ${zone.nameServers.join(', ')}`)
    if (!d.ok && d.parent) await upsertDelegation(ctx, d.parent, zone)
    else if (!d.ok)
      throw new StepFailedError(
        `hosted zone ${ctx.env.domain} (${zone.id}) is not delegated (${d.detail}): ACM could never validate the certificate`,
        `create these NS records ${recordsToCreate(ctx, zone)}; then re-run: \`autolytiq deploy --env ${ctx.envName} --from dns.hosted-zone\``,
      )
    return { hostedZoneId: zone.id, nameServers: zone.nameServers }
  },
}
