import { z } from 'zod'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Change, ResourceRecordSet } from '@aws-sdk/client-route-53'
import type { Context, Step } from '../../engine/types.js'
import { ingressHostname } from '../../checks/dns.js'
import { requireAccount } from '../aws/account.js'
import { findHostedZone, sameName } from '../aws/route53.js'
import { pollUntil } from '../aws/util.js'

/**
 * Canonical hosted zone ids of Application Load Balancers per region (AWS "Elastic Load
 * Balancing endpoints and quotas"). The plan hard-codes us-east-1's Z35SXDOTRQ7X7K; an alias in
 * any other region needs its own.
 */
export const ALB_HOSTED_ZONE: Record<string, string> = {
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-east-2': 'Z3AADJGX6KTTL2',
  'us-west-1': 'Z368ELLRRE2KJ0',
  'us-west-2': 'Z1H1FL5HABSF5',
  'ca-central-1': 'ZQSVJUPU6J1EY',
  'eu-west-1': 'Z32O12XQLNTSW2',
  'eu-west-2': 'ZHURV8PSTC4K8',
  'eu-west-3': 'Z3Q77PNBQS71R4',
  'eu-central-1': 'Z215JYRZR1TBD5',
  'eu-north-1': 'Z23TAZHQTXEIWF',
  'ap-south-1': 'ZP97RAFLXTNZK',
  'ap-southeast-1': 'Z1LMS91P8CMLE5',
  'ap-southeast-2': 'Z1GM3OXH4ZPM65',
  'ap-northeast-1': 'Z14GRHDCWA56QT',
  'ap-northeast-2': 'ZWKZPGTI48KDX',
  'sa-east-1': 'Z2P70J7HTTTPLU',
}

const params = z
  .object({
    /** Route 53 applies a change within a minute; INSYNC is awaited with this deadline. */
    timeoutSeconds: z.number().int().min(1).max(3600).default(300),
  })
  .strict()
type Params = z.infer<typeof params>

const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '')

export interface Want {
  name: string
  alb: string
  albZone: string
  zoneId: string
}

async function wanted(ctx: Context): Promise<Want[]> {
  const alb = ingressHostname(ctx)
  if (!alb)
    throw new UserError(
      'the load balancer hostname is unknown: k8s.ingress-address has not run',
      `run phase 5 first: \`autolytiq deploy --env ${ctx.envName} --phase 5\``,
    )
  const albZone = ALB_HOSTED_ZONE[ctx.env.region]
  if (!albZone) throw new UserError(`no ALB hosted zone id known for region ${ctx.env.region}`, 'add it to ALB_HOSTED_ZONE in src/steps/dns/records.ts')
  const zone = await findHostedZone(ctx, ctx.env.domain)
  if (!zone) throw new UserError(`no public hosted zone for ${ctx.env.domain}`, `run \`autolytiq deploy --env ${ctx.envName} --only dns.hosted-zone\``)
  const names = [ctx.env.apiDomain, ...(ctx.env.grafanaDomain ? [ctx.env.grafanaDomain] : [])]
  return names.map((name) => ({ name, alb, albZone, zoneId: zone.id }))
}

/** What Route 53 holds for `name` today: the alias target, a CNAME (record set kept whole: its DELETE must match it exactly), another record, or nothing. */
async function current(ctx: Context, w: Want): Promise<{ alias?: string; cname?: ResourceRecordSet; other?: string }> {
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53')
  const r53 = await ctx.clients.aws.route53()
  const res = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: w.zoneId, StartRecordName: w.name, MaxItems: 10 }))
  const sets = (res.ResourceRecordSets ?? []).filter((r) => sameName(r.Name ?? '', w.name))
  const a = sets.find((r) => r.Type === 'A')
  if (a?.AliasTarget?.DNSName) return { alias: norm(a.AliasTarget.DNSName) }
  const cname = sets.find((r) => r.Type === 'CNAME')
  if (cname) return { cname, other: `CNAME ${(cname.ResourceRecords ?? []).map((v) => v.Value).join(', ')}` }
  return a ? { other: `A ${(a.ResourceRecords ?? []).map((v) => v.Value).join(', ')}` } : {}
}

/**
 * The change batch that leaves an alias A at every name. A CNAME cannot live beside an A record
 * (the plan's option B, "CNAME records pointing to ALB", leaves exactly that): Route 53 refuses
 * an UPSERT of the A alone with InvalidChangeBatch, so the DELETE of the CNAME, with its current
 * values, goes in the same batch — Route 53 applies a batch atomically, so the name never
 * stops resolving and a failure changes nothing.
 */
export function changesFor(want: Want[], now: { cname?: ResourceRecordSet }[]): Change[] {
  return want.flatMap((w, i) => {
    const cname = now[i]?.cname
    const upsert: Change = {
      Action: 'UPSERT',
      ResourceRecordSet: { Name: w.name, Type: 'A', AliasTarget: { HostedZoneId: w.albZone, DNSName: w.alb, EvaluateTargetHealth: true } },
    }
    return cname ? [{ Action: 'DELETE', ResourceRecordSet: cname }, upsert] : [upsert]
  })
}

/** Plan 6.2: alias A records for the API and Grafana names to the ingress's ALB (UPSERT, so a re-run never fails). */
export const dnsRecords: Step<Params> = {
  id: 'dns.records',
  title: 'DNS alias records for the API and Grafana',
  description:
    "Plan 6.1-6.2: UPSERTs alias A records (api and grafana names -> the Ingress's ALB, with the region's ALB hosted zone id) in the environment's hosted zone and waits for Route 53 to report the change INSYNC.",
  danger: 'mutating',
  params,
  timeoutMs: 15 * 60_000,
  async plan(ctx) {
    const alb = ingressHostname(ctx) ?? '<ALB hostname from k8s.ingress-address>'
    const names = [ctx.env.apiDomain, ...(ctx.env.grafanaDomain ? [ctx.env.grafanaDomain] : [])]
    return [
      `route53 ListHostedZonesByName ${ctx.env.domain}`,
      `route53 ListResourceRecordSets at each name (a CNAME there is DELETEd, with its current values, in the same batch as the UPSERT)`,
      `route53 ChangeResourceRecordSets UPSERT ${names.map((n) => `${n} A ALIAS ${alb} (zone ${ALB_HOSTED_ZONE[ctx.env.region] ?? '?'})`).join('; ')}`,
      'route53 GetChange <change id> until INSYNC',
    ]
  },
  async check(ctx) {
    const want = await wanted(ctx)
    const states = await Promise.all(want.map(async (w) => ({ w, now: await current(ctx, w) })))
    const wrong = states.filter((s) => s.now.alias !== s.w.alb)
    if (!wrong.length)
      return {
        status: 'done',
        detail: `${want.map((w) => w.name).join(', ')} -> ${want[0]?.alb}`,
        outputs: { records: want.map((w) => w.name), alb: want[0]?.alb },
      }
    const detail = wrong.map((s) => `${s.w.name}: ${s.now.alias ? `alias to ${s.now.alias}` : (s.now.other ?? 'missing')}`).join('; ')
    return wrong.some((s) => s.now.alias || s.now.other) ? { status: 'drift', detail } : { status: 'todo', detail }
  },
  async run(ctx, p) {
    await requireAccount(ctx)
    const want = await wanted(ctx)
    const { ChangeResourceRecordSetsCommand, GetChangeCommand } = await import('@aws-sdk/client-route-53')
    const r53 = await ctx.clients.aws.route53()
    // Read again right before the change: a crash after an earlier batch leaves no CNAME to delete.
    const now = await Promise.all(want.map((w) => current(ctx, w)))
    const replaced = want.flatMap((w, i) => (now[i]?.cname ? [`${w.name} ${now[i]?.other}`] : []))
    if (replaced.length) ctx.log(`replacing ${replaced.join('; ')} with alias A records in one change batch`)
    ctx.log(`UPSERT ${want.map((w) => w.name).join(', ')} -> ${want[0]?.alb}`)
    const change = await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: want[0]!.zoneId,
        ChangeBatch: { Comment: `autolytiq ${ctx.envName} ${ctx.runId}`, Changes: changesFor(want, now) },
      }),
    )
    const id = change.ChangeInfo?.Id
    if (!id) throw new StepFailedError('Route 53 returned no change id', 're-run: the UPSERT is idempotent')
    await pollUntil(ctx, {
      what: `Route 53 change ${id} INSYNC`,
      timeoutMs: p.timeoutSeconds * 1000,
      intervalMs: 5000,
      next: `re-run to keep waiting: \`autolytiq deploy --env ${ctx.envName} --from dns.records\``,
      probe: async () => {
        const r = await r53.send(new GetChangeCommand({ Id: id }))
        return { done: r.ChangeInfo?.Status === 'INSYNC', progress: r.ChangeInfo?.Status ?? 'unknown' }
      },
    })
    return { records: want.map((w) => w.name), alb: want[0]?.alb }
  },
}
