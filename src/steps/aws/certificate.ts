import { z } from 'zod'
import type { CertificateDetail } from '@aws-sdk/client-acm'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { findHostedZone, recordExists, upsertRecords, type RecordValue } from './route53.js'
import { listSome, pollUntil } from './util.js'

const params = z
  .object({
    /** ACM validation usually takes 5-30 minutes (plan 1.4); the wait resumes on re-run. */
    waitTimeoutSeconds: z.number().int().min(1).default(1800),
    pollSeconds: z.number().int().min(1).default(15),
  })
  .strict()

const STEP_ID = 'acm.certificate'

function wanted(ctx: Context): { domain: string; san: string } {
  return { domain: ctx.env.apiDomain, san: `*.${ctx.env.domain}` }
}

function matches(ctx: Context, c: CertificateDetail | undefined): boolean {
  const { domain, san } = wanted(ctx)
  return c?.DomainName === domain && (c.SubjectAlternativeNames ?? []).includes(san) && ['ISSUED', 'PENDING_VALIDATION'].includes(c.Status ?? '')
}

async function describe(ctx: Context, arn: string): Promise<CertificateDetail | undefined> {
  const { DescribeCertificateCommand } = await import('@aws-sdk/client-acm')
  try {
    return (await (await ctx.clients.aws.acm()).send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined
    throw err
  }
}

/** The saved certificate if still usable, else an ISSUED (preferred) or PENDING one for the API domain with the wildcard SAN. */
async function findCertificate(ctx: Context): Promise<CertificateDetail | undefined> {
  const saved = ctx.state.outputs(STEP_ID)?.certificateArn
  if (typeof saved === 'string') {
    const c = await describe(ctx, saved)
    if (matches(ctx, c)) return c
  }
  const { ListCertificatesCommand } = await import('@aws-sdk/client-acm')
  const acm = await ctx.clients.aws.acm()
  const candidates: CertificateDetail[] = []
  let token: string | undefined
  do {
    const page = await acm.send(new ListCertificatesCommand({ CertificateStatuses: ['ISSUED', 'PENDING_VALIDATION'], NextToken: token }))
    for (const s of page.CertificateSummaryList ?? []) {
      if (s.DomainName !== wanted(ctx).domain || !s.CertificateArn) continue
      const c = await describe(ctx, s.CertificateArn)
      if (matches(ctx, c)) candidates.push(c!)
    }
    token = page.NextToken
  } while (token)
  const rank = (c: CertificateDetail): number => (c.Status === 'ISSUED' ? 1 : 0)
  return candidates.sort((a, b) => rank(b) - rank(a) || (b.CreatedAt?.getTime() ?? 0) - (a.CreatedAt?.getTime() ?? 0))[0]
}

/** The CNAMEs ACM wants; the apex and its wildcard share one record, so names are deduplicated. */
function validationRecords(c: CertificateDetail): RecordValue[] {
  const byName = new Map<string, RecordValue>()
  for (const o of c.DomainValidationOptions ?? []) {
    const r = o.ResourceRecord
    if (r?.Name && r.Value) byName.set(r.Name.toLowerCase(), { name: r.Name, type: r.Type ?? 'CNAME', value: r.Value })
  }
  return [...byName.values()]
}

async function missingRecords(ctx: Context, zoneId: string, c: CertificateDetail): Promise<RecordValue[]> {
  const records = validationRecords(c)
  const present = await Promise.all(records.map((r) => recordExists(ctx, zoneId, r)))
  return records.filter((_, i) => !present[i])
}

function noZoneError(ctx: Context): UserError {
  return new UserError(
    `no public Route 53 hosted zone for ${ctx.env.domain}: the certificate's DNS validation records have nowhere to go; nothing was requested`,
    `create it first: \`autolytiq deploy --env ${ctx.envName} --only dns.hosted-zone\``,
  )
}

/** No idempotency token: after a crash right after the request, findCertificate() lists the PENDING one. */
async function requestCertificate(ctx: Context): Promise<string> {
  const { RequestCertificateCommand } = await import('@aws-sdk/client-acm')
  const { domain, san } = wanted(ctx)
  ctx.log(`requesting a certificate for ${domain} + ${san}`)
  const r = await (
    await ctx.clients.aws.acm()
  ).send(
    new RequestCertificateCommand({
      DomainName: domain,
      SubjectAlternativeNames: [san],
      ValidationMethod: 'DNS',
      Tags: [{ Key: 'autolytiq:environment', Value: ctx.envName }],
    }),
  )
  if (!r.CertificateArn) throw new StepFailedError('ACM RequestCertificate returned no ARN')
  return r.CertificateArn
}

/** Plan 1.4: certificate for the API domain with the wildcard SAN, validated through Route 53. */
export const acmCertificate: Step<z.infer<typeof params>> = {
  id: STEP_ID,
  title: 'TLS certificate for the API domain (ACM, DNS-validated)',
  description:
    'Plan 1.4: reuses an ISSUED or PENDING ACM certificate for the API domain with the *.domain SAN, else requests one; UPSERTs its DNS validation CNAMEs in Route 53 and waits for ISSUED (resumable: the ARN is saved first).',
  danger: 'mutating',
  params,
  timeoutMs: 60 * 60_000,
  async plan(ctx, p) {
    const { domain, san } = wanted(ctx)
    return [
      `route53 ListHostedZonesByName ${ctx.env.domain} (the zone must exist)`,
      `acm ListCertificates ISSUED,PENDING_VALIDATION + DescribeCertificate: reuse one for ${domain} with SAN ${san}`,
      `acm RequestCertificate ${domain} --subject-alternative-names ${san} --validation-method DNS (only if none)`,
      `route53 ChangeResourceRecordSets UPSERT the validation CNAME(s) (only those missing)`,
      `acm DescribeCertificate every ${p.pollSeconds} s until ISSUED (at most ${p.waitTimeoutSeconds} s)`,
    ]
  },
  async check(ctx) {
    const zone = await findHostedZone(ctx, ctx.env.domain)
    if (!zone) return { status: 'todo', detail: `no hosted zone for ${ctx.env.domain} yet` }
    const cert = await findCertificate(ctx)
    if (!cert) return { status: 'todo', detail: `no certificate for ${ctx.env.apiDomain} yet` }
    const missing = await missingRecords(ctx, zone.id, cert)
    const outputs = { certificateArn: cert.CertificateArn, status: cert.Status }
    if (cert.Status === 'ISSUED' && missing.length === 0) return { status: 'done', detail: cert.CertificateArn, outputs }
    if (cert.Status === 'ISSUED')
      return { status: 'drift', detail: `validation record(s) ${listSome(missing.map((r) => r.name))} missing (ACM needs them to renew)` }
    return { status: 'todo', detail: `${cert.CertificateArn} is ${cert.Status}${missing.length ? `; ${missing.length} validation record(s) missing` : ''}` }
  },
  async run(ctx, p) {
    await requireAccount(ctx)
    const zone = await findHostedZone(ctx, ctx.env.domain)
    if (!zone) throw noZoneError(ctx)
    let arn = (await findCertificate(ctx))?.CertificateArn
    if (!arn) arn = await requestCertificate(ctx)
    // Saved before any wait: an interrupted run resumes with this certificate instead of requesting another.
    ctx.state.setOutputs(STEP_ID, { certificateArn: arn })
    await ctx.state.save()

    // ACM fills in the validation records a few seconds after the request.
    const cert = await pollUntil(ctx, {
      what: 'the DNS validation records of the certificate',
      timeoutMs: 120_000,
      intervalMs: 2_000,
      next: 're-run the same command: the saved certificate is reused',
      probe: async () => {
        const c = await describe(ctx, arn!)
        if (!c) throw new StepFailedError(`certificate ${arn} disappeared while waiting`, 're-run to request a new one')
        const ready = c.Status === 'ISSUED' || validationRecords(c).length > 0
        return { done: ready, value: c, progress: `status ${c.Status}, no validation records yet` }
      },
    })
    const missing = await missingRecords(ctx, zone.id, cert)
    if (missing.length) {
      ctx.log(`UPSERT ${missing.length} validation record(s) in ${zone.id}`)
      await upsertRecords(ctx, zone.id, missing, `ACM validation for ${ctx.env.apiDomain} (autolytiq ${ctx.envName})`)
    }
    await pollUntil(ctx, {
      what: `certificate ${arn} ISSUED`,
      timeoutMs: p.waitTimeoutSeconds * 1000,
      intervalMs: p.pollSeconds * 1000,
      next: `re-run the same command to keep waiting (the certificate ARN is saved); check the validation CNAMEs in ${ctx.env.domain} and that the registrar delegates to Route 53`,
      probe: async () => {
        const c = await describe(ctx, arn!)
        if (c?.Status === 'ISSUED') return { done: true, progress: 'ISSUED' }
        if (c && c.Status !== 'PENDING_VALIDATION')
          throw new StepFailedError(`certificate ${arn} is ${c.Status}${c.FailureReason ? ` (${c.FailureReason})` : ''}`, 'fix the cause and re-run')
        return { done: false, progress: c?.Status ?? 'not found' }
      },
    })
    return { certificateArn: arn, status: 'ISSUED' }
  },
}
