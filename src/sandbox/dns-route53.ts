import { ListHostedZonesCommand, ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet, type RRType } from '@aws-sdk/client-route-53'
import type { DnsRecord, DnsRecordSource } from './components/dns.js'

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '')

async function allPages<T>(fetchPage: (marker?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = []
  let marker: string | undefined
  do {
    const page = await fetchPage(marker)
    out.push(...page.items)
    marker = page.next
  } while (marker)
  return out
}

async function records(r53: Route53Client, zoneId: string): Promise<ResourceRecordSet[]> {
  const sets: ResourceRecordSet[] = []
  let start: { StartRecordName?: string; StartRecordType?: RRType } = {}
  for (;;) {
    const r = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...start }))
    sets.push(...(r.ResourceRecordSets ?? []))
    if (!r.IsTruncated) break
    start = { StartRecordName: r.NextRecordName, StartRecordType: r.NextRecordType }
  }
  return sets
}

/**
 * Answers from whatever hosted zones exist in moto's Route 53 at query time, so the runbook's own
 * dns.hosted-zone and dns.records steps decide what resolves: before the UPSERT the API name is
 * NXDOMAIN, after it the alias leads to the ALB name and on to the gateway. Alias records answer
 * as a CNAME to their target (real Route 53 returns the target's addresses).
 */
export function route53Records(r53: Route53Client): DnsRecordSource {
  return async (name) => {
    const zones = await allPages(async (Marker) => {
      const r = await r53.send(new ListHostedZonesCommand({ Marker }))
      return { items: r.HostedZones ?? [], next: r.IsTruncated ? r.NextMarker : undefined }
    })
    // Walk down as resolvers do: the least specific zone that contains the name is taken as
    // delegated by its registrar; a more specific zone answers only once the zone above it holds
    // NS records for it (a subdomain zone nobody delegated to stays unreachable, as on the Internet).
    const containing = zones
      .filter((z) => !z.Config?.PrivateZone)
      .map((z) => ({ id: z.Id ?? '', name: norm(z.Name ?? '') }))
      .filter((z) => name === z.name || name.endsWith(`.${z.name}`))
      .sort((a, b) => a.name.length - b.name.length)
    let zone = containing[0]
    if (!zone) return []
    let sets = await records(r53, zone.id)
    for (const child of containing.slice(1)) {
      if (!sets.some((rr) => rr.Type === 'NS' && norm(rr.Name ?? '') === child.name)) break
      zone = child
      sets = await records(r53, child.id)
    }
    const out: DnsRecord[] = []
    for (const rr of sets) {
      if (norm(rr.Name ?? '') !== name) continue
      if (rr.AliasTarget?.DNSName) out.push({ type: 'CNAME', target: norm(rr.AliasTarget.DNSName), ttl: 60 })
      else if (rr.Type === 'A') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'A', address: v.Value ?? '', ttl: rr.TTL })
      else if (rr.Type === 'CNAME') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'CNAME', target: norm(v.Value ?? ''), ttl: rr.TTL })
      // a zone's NS set: the delegation dns.hosted-zone checks before ACM waits
      else if (rr.Type === 'NS') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'NS', target: norm(v.Value ?? ''), ttl: rr.TTL })
    }
    return out
  }
}
