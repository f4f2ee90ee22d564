import type { Context } from '../../engine/types.js'

export interface HostedZone {
  id: string
  name: string
  nameServers: string[]
}

/** Route 53 writes names with a trailing dot; compare without it, case-insensitively. */
export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase()
}

/** The public hosted zone named exactly `domain`, or undefined. Read-only. */
export async function findHostedZone(ctx: Context, domain: string): Promise<HostedZone | undefined> {
  const { ListHostedZonesByNameCommand, GetHostedZoneCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  const list = await r53.send(new ListHostedZonesByNameCommand({ DNSName: domain, MaxItems: 10 }))
  const zone = (list.HostedZones ?? []).find((z) => sameName(z.Name ?? '', domain) && !z.Config?.PrivateZone)
  if (!zone?.Id) return undefined
  const id = zone.Id.replace(/^\/hostedzone\//, '')
  const full = await r53.send(new GetHostedZoneCommand({ Id: id }))
  return { id, name: domain, nameServers: full.DelegationSet?.NameServers ?? [] }
}

export interface RecordValue {
  name: string
  type: string
  value: string
}

/** Whether `rec` exists in the zone with exactly this value. Read-only. */
export async function recordExists(ctx: Context, zoneId: string, rec: RecordValue): Promise<boolean> {
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  const r = await r53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: rec.name, StartRecordType: rec.type as never, MaxItems: 1 }),
  )
  const set = r.ResourceRecordSets?.[0]
  if (!set || !sameName(set.Name ?? '', rec.name) || set.Type !== rec.type) return false
  return (set.ResourceRecords ?? []).some((v) => sameName(v.Value ?? '', rec.value))
}

/** UPSERT (never CREATE: a second run must not fail) of simple records; returns the change id. */
export async function upsertRecords(ctx: Context, zoneId: string, records: RecordValue[], comment: string): Promise<string | undefined> {
  const { ChangeResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  const r = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: comment,
        Changes: records.map((rec) => ({
          Action: 'UPSERT',
          ResourceRecordSet: { Name: rec.name, Type: rec.type as never, TTL: 300, ResourceRecords: [{ Value: rec.value }] },
        })),
      },
    }),
  )
  return r.ChangeInfo?.Id
}
