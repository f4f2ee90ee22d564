import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ACMClient, DescribeCertificateCommand, ListCertificatesCommand } from '@aws-sdk/client-acm'
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53'
import { parse, stringify } from 'yaml'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { REPO } from '../helpers/cli.js'
import { startMoto, type Moto } from '../harness/moto.js'
import { awsProject, describeCalls, outcome, runInProcess, type AwsProject } from './aws-project.js'

// acm.certificate against moto. moto issues a DNS-validated certificate once it has been pending
// for MOTO_ACM_VALIDATION_WAIT seconds (its stand-in for ACM seeing the CNAMEs; default 60), so
// this file runs its own moto with a 3-second wait instead of sleeping a minute on the shared one.
let moto: Moto
const ACM_WAIT_SECONDS = 3

beforeAll(async () => {
  const before = process.env.MOTO_ACM_VALIDATION_WAIT
  process.env.MOTO_ACM_VALIDATION_WAIT = String(ACM_WAIT_SECONDS)
  try {
    moto = await startMoto()
  } finally {
    if (before === undefined) delete process.env.MOTO_ACM_VALIDATION_WAIT
    else process.env.MOTO_ACM_VALIDATION_WAIT = before
  }
})
afterAll(async () => moto?.stop())

/** The real go-live runbook with acm.certificate's wait parameters set. */
function writeRunbook(p: AwsProject, acmParams: Record<string, unknown>): void {
  const path = join(p.root, 'runbooks', 'go-live.yaml')
  const rb = parse(readFileSync(join(REPO, 'runbooks', 'go-live.yaml'), 'utf8'))
  for (const ph of rb.phases) for (const s of ph.steps) if (s.uses === 'acm.certificate') s.with = acmParams
  writeFileSync(path, stringify(rb))
}

async function validationRecords(r53: Route53Client, zoneId: string): Promise<{ name: string; value: string }[]> {
  const r = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))
  return (r.ResourceRecordSets ?? []).filter((s) => s.Type === 'CNAME').map((s) => ({ name: s.Name!, value: s.ResourceRecords![0]!.Value! }))
}

describe('acm.certificate', () => {
  let p: AwsProject
  let r53: Route53Client
  let acm: ACMClient
  let zoneId: string

  beforeEach(async () => {
    p = await awsProject({ endpoint: moto.endpoint })
    r53 = new Route53Client(p.sdk)
    acm = new ACMClient(p.sdk)
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: p.domain, CallerReference: `test-${Date.now()}` }))
    zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '')
  })
  afterEach(() => p?.cleanup())

  it('requests, UPSERTs the validation CNAMEs, waits for ISSUED; re-run changes nothing; a deleted record is put back', async () => {
    writeRunbook(p, { pollSeconds: 1, waitTimeoutSeconds: 60 })

    const first = await runInProcess(p, ['acm.certificate'])
    expect(first.report.result, JSON.stringify(first.report.error)).toBe('succeeded')
    expect(describeCalls(first.mutating)).toEqual(['acm.RequestCertificate', 'route53.ChangeResourceRecordSets'])
    const arn = first.ctx.state.outputs('acm.certificate')?.certificateArn as string
    const cert = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate!
    expect(cert).toMatchObject({ Status: 'ISSUED', DomainName: p.apiDomain })
    expect(cert.SubjectAlternativeNames).toContain(`*.${p.domain}`)
    const wanted = new Map(cert.DomainValidationOptions!.map((o) => [o.ResourceRecord!.Name!, o.ResourceRecord!.Value!]))
    expect(new Map((await validationRecords(r53, zoneId)).map((r) => [r.name, r.value]))).toEqual(wanted)

    const second = await runInProcess(p, ['acm.certificate'])
    expect(outcome(second.report, 'acm.certificate')).toBe('unchanged')
    expect(second.mutating).toEqual([])

    // Drift: a validation record deleted (ACM needs it to renew). Repaired without a new certificate.
    const [name, value] = [...wanted][0]!
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: value }] } }] },
      }),
    )
    const third = await runInProcess(p, ['acm.certificate'])
    expect(outcome(third.report, 'acm.certificate')).toBe('changed')
    expect(third.report.steps[0]?.detail).toContain(`repaired drift: validation record(s) ${name} missing`)
    expect(describeCalls(third.mutating)).toEqual(['route53.ChangeResourceRecordSets'])
    expect((await validationRecords(r53, zoneId)).map((r) => r.name).sort()).toEqual([...wanted.keys()].sort())
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1)

    const fourth = await runInProcess(p, ['acm.certificate'])
    expect(outcome(fourth.report, 'acm.certificate')).toBe('unchanged')
    expect(fourth.mutating).toEqual([])
  })

  it('a wait that times out fails with the resume hint; the re-run keeps waiting on the same certificate', async () => {
    writeRunbook(p, { pollSeconds: 1, waitTimeoutSeconds: 1 })
    const first = await runInProcess(p, ['acm.certificate'])
    expect(first.report.result).toBe('failed')
    expect(first.report.error?.message).toMatch(/^still waiting for certificate arn:aws:acm:.* ISSUED after \d+ s \(PENDING_VALIDATION\)/)
    expect(first.report.error?.next).toContain('re-run the same command to keep waiting (the certificate ARN is saved)')
    const arn = first.ctx.state.outputs('acm.certificate')?.certificateArn
    expect(arn).toMatch(/^arn:aws:acm:us-east-1:\d{12}:certificate\//)

    writeRunbook(p, { pollSeconds: 1, waitTimeoutSeconds: 60 })
    const second = await runInProcess(p, ['acm.certificate'])
    expect(second.report.result, JSON.stringify(second.report.error)).toBe('succeeded')
    expect(describeCalls(second.mutating)).not.toContain('acm.RequestCertificate')
    expect(second.ctx.state.outputs('acm.certificate')).toMatchObject({ certificateArn: arn, status: 'ISSUED' })
    expect((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList).toHaveLength(1)
  })
})
