import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client, type Change } from '@aws-sdk/client-route-53'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { awsProject, outcome, runInProcess, sdkConfig, type AwsProject } from './aws-project.js'

// Issue #16 item 8: Route 53 refuses change batches moto 5.2.1 accepts. The harness puts the
// checking layer (src/sandbox/components/route53-guard.ts) in front of moto; these tests show
// moto alone accepting each batch, the layer refusing it as Route 53 does, and dns.records
// replacing the plan's option-B CNAME with an alias A in one batch.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''
const motoEndpoint = aws?.motoEndpoint ?? ''

const cname = (name: string, value: string, action: Change['Action'] = 'CREATE'): Change => ({
  Action: action,
  ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: value }] },
})
const alias = (name: string, target: string, action: Change['Action'] = 'UPSERT'): Change => ({
  Action: action,
  ResourceRecordSet: { Name: name, Type: 'A', AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: target, EvaluateTargetHealth: true } },
})

describe.skipIf(!aws)('Route 53 change batches: what real Route 53 refuses', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  async function zone(): Promise<{ guarded: Route53Client; moto: Route53Client; zoneId: string; domain: string }> {
    p = await awsProject({ endpoint })
    const guarded = new Route53Client(p.sdk)
    const moto = new Route53Client(sdkConfig(motoEndpoint, p.account))
    const z = await guarded.send(new CreateHostedZoneCommand({ Name: p.domain, CallerReference: p.domain }))
    return { guarded, moto, zoneId: z.HostedZone!.Id!.replace('/hostedzone/', ''), domain: p.domain }
  }
  const send = (c: Route53Client, zoneId: string, changes: Change[]) =>
    c.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }))

  it('an A beside a CNAME, a CNAME at the apex, a non-matching DELETE, a CREATE of an existing record: moto accepts, the layer refuses with InvalidChangeBatch', async () => {
    const { guarded, moto, zoneId, domain } = await zone()
    await send(guarded, zoneId, [cname(`api.${domain}`, 'old-alb.example.com')])

    const cases: { changes: Change[]; message: RegExp }[] = [
      {
        changes: [alias(`api.${domain}`, 'alb.example.com')],
        message: new RegExp(`RRSet of type A with DNS name api\\.${domain}\\. is not permitted because a conflicting RRSet of type  CNAME`),
      },
      { changes: [cname(domain, 'elsewhere.example.com')], message: new RegExp(`RRSet of type CNAME with DNS name ${domain}\\. is not permitted at apex`) },
      {
        changes: [cname(`api.${domain}`, 'not-the-value.example.com', 'DELETE')],
        message: /Tried to delete resource record set \[name='api\..*', type='CNAME'\] but the values provided do not match the current values/,
      },
      {
        changes: [cname(`api.${domain}`, 'old-alb.example.com')],
        message: /Tried to create resource record set \[name='api\..*', type='CNAME'\] but it already exists/,
      },
    ]
    for (const c of cases) {
      const err = await send(guarded, zoneId, c.changes).catch((e: Error) => e)
      expect(err, JSON.stringify(c.changes)).toBeInstanceOf(Error)
      expect((err as Error).name).toBe('InvalidChangeBatch')
      expect((err as Error).message).toMatch(c.message)
      expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(400)
    }
    // the zone is unchanged by the refused batches: still just the CNAME at api
    const sets = (await guarded.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? []
    expect(sets.filter((s) => s.Type !== 'NS' && s.Type !== 'SOA').map((s) => `${s.Name} ${s.Type}`)).toEqual([`api.${domain}. CNAME`])

    // what moto 5.2.1 alone accepts (the reason for the layer): every one of these batches
    for (const c of cases.slice(0, 2)) await expect(send(moto, zoneId, c.changes)).resolves.toBeDefined()
    moto.destroy()
    guarded.destroy()
  })

  it('dns.records replaces a CNAME at the API name (plan option B) by DELETE + alias A in one batch; a re-run changes nothing', async () => {
    const { guarded, zoneId, domain } = await zone()
    await send(guarded, zoneId, [cname(`api.${domain}`, 'old-alb.example.com')])
    const alb = 'k8s-autolytiq-0123456789.us-east-1.elb.amazonaws.com'
    // k8s.ingress-address has run: the ALB hostname is in the state
    const seed = await runInProcess(p, ['preflight.identity'])
    seed.ctx.state.setOutputs('k8s.ingress-address', { hostname: alb })
    await seed.ctx.state.save()

    const r = await runInProcess(p, ['dns.records'])
    expect(r.report.result, JSON.stringify(r.report.steps)).toBe('succeeded')
    expect(outcome(r.report, 'dns.records')).toBe('changed')
    const sets = (await guarded.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? []
    const api = sets.filter((s) => s.Name === `api.${domain}.`)
    expect(api.map((s) => s.Type)).toEqual(['A'])
    expect(api[0]!.AliasTarget?.DNSName).toMatch(new RegExp(`^${alb.replace(/\./g, '\\.')}\\.?$`))

    const again = await runInProcess(p, ['dns.records'])
    expect(outcome(again.report, 'dns.records')).toBe('unchanged')
    expect(again.mutating).toEqual([])
    guarded.destroy()
  })
})
