import {
  CreateHostedZoneCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startDnsServer, type TestDnsServer } from '../../src/sandbox/components/dns.js'
import { runCli } from '../helpers/cli.js'
import { awsProject, outcome, runInProcess, suffix, type AwsProject } from './aws-project.js'

// Issue #16 item 9: a subdomain's hosted zone (staging.autolytiq.com) must be delegated from its
// parent, or ACM's DNS validation waits 30 minutes and fails. Same account: dns.hosted-zone
// UPSERTs the NS records in the parent zone. Parent elsewhere: it asks the DNS (a real DNS server
// here) and fails at once with the exact records to create.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''

describe.skipIf(!aws)('dns.hosted-zone delegates a subdomain zone', () => {
  let p: AwsProject | undefined
  let dns: TestDnsServer | undefined
  afterEach(async () => {
    p?.cleanup()
    await dns?.stop()
    dns = undefined
  })

  it('parent zone in the same account: the NS records go into the parent; a re-run changes nothing', async () => {
    const parent = `${suffix()}.autolytiq.test`
    const domain = `staging.${parent}`
    p = await awsProject({ endpoint, environment: { domain, apiDomain: `api.${domain}` } })
    const r53 = new Route53Client(p.sdk)
    const parentId = (await r53.send(new CreateHostedZoneCommand({ Name: parent, CallerReference: parent }))).HostedZone!.Id!.replace('/hostedzone/', '')

    const r = await runInProcess(p, ['dns.hosted-zone'])
    expect(r.report.result, JSON.stringify(r.report.steps)).toBe('succeeded')
    const child = (r.ctx.state.outputs('dns.hosted-zone') as { hostedZoneId: string; nameServers: string[] }) ?? {}
    const ns = (await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: parentId }))).ResourceRecordSets?.find(
      (s) => s.Type === 'NS' && s.Name === `${domain}.`,
    )
    expect(ns?.ResourceRecords?.map((v) => v.Value?.replace(/\.$/, '')).sort()).toEqual([...child.nameServers].map((n) => n.replace(/\.$/, '')).sort())
    expect((await r53.send(new GetHostedZoneCommand({ Id: child.hostedZoneId }))).HostedZone?.Name).toBe(`${domain}.`)

    const again = await runInProcess(p, ['dns.hosted-zone'])
    expect(outcome(again.report, 'dns.hosted-zone')).toBe('unchanged')
    expect(again.report.steps[0]?.detail).toContain(`delegated from ${parent}`)
    expect(again.mutating).toEqual([])
    r53.destroy()
  })

  it('parent elsewhere and not delegated: fails before ACM with the exact NS records; once they resolve, done', async () => {
    dns = await startDnsServer()
    const domain = `staging.${suffix()}.autolytiq.test`
    p = await awsProject({
      endpoint,
      envName: 'rehearsal',
      environment: { sandbox: false, awsEndpoint: endpoint, dnsServers: [dns.server], domain, apiDomain: `api.${domain}`, eksCluster: 'autolytiq-rehearsal' },
    })
    const r = await runCli(['deploy', '--env', 'rehearsal', '--only', 'dns.hosted-zone', '--only', 'acm.certificate', '--yes'], p.cliEnv)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`FAILED at dns\\.hosted-zone: hosted zone ${domain.replace(/\./g, '\\.')} \\(\\w+\\) is not delegated`))
    const r53 = new Route53Client(p.sdk)
    const zones = await r53.send(new ListHostedZonesByNameCommand({ DNSName: domain }))
    const id = zones.HostedZones!.find((z) => z.Name === `${domain}.`)!.Id!
    const nameServers = (await r53.send(new GetHostedZoneCommand({ Id: id }))).DelegationSet!.NameServers!
    for (const n of nameServers) expect(r.stdout).toContain(`${domain}. 172800 IN NS ${n.replace(/\.$/, '')}.`)
    expect(r.stdout).toContain(`autolytiq deploy --env rehearsal --from dns.hosted-zone`)
    // ACM never started waiting
    expect(r.stdout).not.toMatch(/acm\.certificate.*(changed|requested)/)

    // the parent's owner creates the records; the DNS now answers them
    dns.set(
      domain,
      nameServers.map((n) => ({ type: 'NS', target: n })),
    )
    const ok = await runInProcess(p, ['dns.hosted-zone'])
    expect(ok.report.result, JSON.stringify(ok.report.steps)).toBe('succeeded')
    expect(ok.report.steps[0]?.detail).toContain('delegated: resolvers answer NS')
    r53.destroy()
  })
})
