/**
 * A thin checking layer in front of moto for Route 53 (issue #16, item 8).
 *
 * moto 5.2.1 applies change batches that real Route 53 rejects, so a step that would fail on
 * go-live passed every test. Seen accepted by moto (and rejected by Route 53 with
 * InvalidChangeBatch):
 *   - an UPSERT/CREATE of an A record at a name that holds a CNAME (and a CNAME beside other records);
 *   - a CNAME at the zone apex;
 *   - a DELETE whose values differ from the record's current ones, or of a record that is not there;
 *   - a CREATE of a record that already exists.
 * Everything is forwarded to moto byte for byte, except a ChangeResourceRecordSets request that
 * Route 53 would refuse: that one is answered here with Route 53's error document (HTTP 400,
 * ErrorResponse/Error/Code InvalidChangeBatch, the messages in brackets, worded as Route 53
 * words them) and never reaches moto, so the zone is unchanged, as it would be on AWS.
 *
 * It is a stand-in only for the checks moto lacks; the records themselves live in moto. The
 * batch is read with a small extractor (the request XML is the SDKs' fixed serialisation of
 * ChangeBatch; Node has no XML parser and the SDK's own parser is internal), and the zone's
 * current records are read from moto through the AWS SDK.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { GetHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet } from '@aws-sdk/client-route-53'
import { freePort } from './ports.js'

export interface Route53Guard {
  /** Point AWS clients here instead of at moto. */
  endpoint: string
  port: number
  /** Batches refused so far (for tests and the sandbox log). */
  rejected: string[][]
  stop(): Promise<void>
}

export interface Change {
  action: 'CREATE' | 'DELETE' | 'UPSERT'
  set: RecordSet
}

export interface RecordSet {
  name: string
  type: string
  setIdentifier?: string
  ttl?: number
  values: string[]
  alias?: { zoneId: string; dnsName: string }
}

const RRSET_PATH = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/

const decode = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim()

const tag = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)
  return m ? decode(m[1]!) : undefined
}
const blocks = (xml: string, name: string): string[] => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]!)

/** Route 53 names: lower case, one trailing dot, `\052` for `*`. */
export const fqdn = (n: string): string => `${n.toLowerCase().replace(/\\052/g, '*').replace(/\.$/, '')}.`

/** The changes of a ChangeResourceRecordSetsRequest body, in order. */
export function parseChangeBatch(xml: string): Change[] {
  return blocks(xml, 'Change').map((c) => {
    const set = tag(c, 'ResourceRecordSet') !== undefined ? blocks(c, 'ResourceRecordSet')[0]! : ''
    const alias = blocks(set, 'AliasTarget')[0]
    const ttl = tag(set, 'TTL')
    return {
      action: tag(c, 'Action') as Change['action'],
      set: {
        name: fqdn(tag(set, 'Name') ?? ''),
        type: tag(set, 'Type') ?? '',
        setIdentifier: tag(set, 'SetIdentifier'),
        ttl: ttl === undefined ? undefined : Number(ttl),
        values: blocks(set, 'ResourceRecord').map((r) => tag(r, 'Value') ?? ''),
        alias: alias ? { zoneId: tag(alias, 'HostedZoneId') ?? '', dnsName: fqdn(tag(alias, 'DNSName') ?? '') } : undefined,
      },
    }
  })
}

export function fromSdk(r: ResourceRecordSet): RecordSet {
  return {
    name: fqdn(r.Name ?? ''),
    type: r.Type ?? '',
    setIdentifier: r.SetIdentifier,
    ttl: r.TTL,
    values: (r.ResourceRecords ?? []).map((v) => v.Value ?? ''),
    alias: r.AliasTarget ? { zoneId: r.AliasTarget.HostedZoneId ?? '', dnsName: fqdn(r.AliasTarget.DNSName ?? '') } : undefined,
  }
}

const key = (s: RecordSet): string => `${s.name}|${s.type}|${s.setIdentifier ?? ''}`
const sameValues = (a: RecordSet, b: RecordSet): boolean =>
  (a.ttl ?? null) === (b.ttl ?? null) &&
  JSON.stringify([...a.values].sort()) === JSON.stringify([...b.values].sort()) &&
  (a.alias?.dnsName ?? '') === (b.alias?.dnsName ?? '') &&
  (a.alias?.zoneId ?? '') === (b.alias?.zoneId ?? '')

/**
 * Route 53's verdict on a batch against the zone's current records: the messages of an
 * InvalidChangeBatch, or [] when Route 53 would accept it. Changes apply in order (so a DELETE of
 * a CNAME followed by the CREATE of an A at the same name is fine); the one-CNAME-per-name and
 * no-CNAME-at-apex rules hold for the zone as the whole batch leaves it.
 */
export function validateChangeBatch(zoneName: string, current: RecordSet[], changes: Change[]): string[] {
  const zone = fqdn(zoneName)
  const records = new Map(current.map((r) => [key(r), r]))
  const messages: string[] = []
  const touched: RecordSet[] = []
  for (const { action, set } of changes) {
    const k = key(set)
    const have = records.get(k)
    const id = `[name='${set.name}', type='${set.type}'${set.setIdentifier ? `, set-identifier='${set.setIdentifier}'` : ''}]`
    if (action === 'CREATE') {
      if (have) messages.push(`Tried to create resource record set ${id} but it already exists`)
      else {
        records.set(k, set)
        touched.push(set)
      }
    } else if (action === 'DELETE') {
      if (!have) messages.push(`Tried to delete resource record set ${id} but it was not found`)
      else if (!sameValues(have, set)) messages.push(`Tried to delete resource record set ${id} but the values provided do not match the current values`)
      else records.delete(k)
    } else {
      records.set(k, set)
      touched.push(set)
    }
  }
  const all = [...records.values()]
  for (const set of touched) {
    if (!records.has(key(set))) continue
    if (set.type === 'CNAME' && set.name === zone) {
      messages.push(`RRSet of type CNAME with DNS name ${set.name} is not permitted at apex in zone ${zone}`)
      continue
    }
    const others = all.filter((r) => r.name === set.name && r.type !== set.type)
    if (set.type === 'CNAME' && others.length)
      messages.push(`RRSet of type CNAME with DNS name ${set.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zone}`)
    else if (set.type !== 'CNAME' && others.some((r) => r.type === 'CNAME'))
      // (the double space is Route 53's own)
      messages.push(
        `RRSet of type ${set.type} with DNS name ${set.name} is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone ${zone}`,
      )
  }
  return messages
}

/** Route 53's error document for a refused batch (what the SDKs parse into InvalidChangeBatch). */
export function invalidChangeBatchXml(messages: string[]): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return (
    '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>' +
    `<Code>InvalidChangeBatch</Code><Message>${esc(`[${messages.join(', ')}]`)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  )
}

async function zoneRecords(r53: Route53Client, zoneId: string): Promise<{ name: string; records: RecordSet[] }> {
  const zone = await r53.send(new GetHostedZoneCommand({ Id: zoneId }))
  const records: RecordSet[] = []
  let start: { StartRecordName?: string; StartRecordType?: string; StartRecordIdentifier?: string } = {}
  for (;;) {
    const page = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...(start as object) }))
    records.push(...(page.ResourceRecordSets ?? []).map(fromSdk))
    if (!page.IsTruncated) break
    start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType, StartRecordIdentifier: page.NextRecordIdentifier }
  }
  return { name: zone.HostedZone?.Name ?? '', records }
}

function forward(upstream: URL, req: IncomingMessage, res: ServerResponse, body?: Buffer): void {
  const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers)
    up.pipe(res)
  })
  // moto gone: drop the client's connection so the SDK sees the failure as a network error
  out.on('error', () => res.destroy())
  if (body) out.end(body)
  else req.pipe(out)
}

/** Starts the checking layer on a free loopback port in front of `upstream` (moto's endpoint). */
export async function startRoute53Guard(opts: { upstream: string; log?: (m: string) => void }): Promise<Route53Guard> {
  const upstream = new URL(opts.upstream)
  const r53 = new Route53Client({
    endpoint: opts.upstream,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  })
  const rejected: string[][] = []
  // moto keeps each account's zones apart by the access key id of the SigV4 Authorization
  // header: read the zone with the caller's key, as the caller would see it
  const byKey = new Map<string, Route53Client>()
  const callerClient = (req: IncomingMessage): Route53Client => {
    const keyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1]
    if (!keyId) return r53
    let c = byKey.get(keyId)
    if (!c) {
      c = new Route53Client({ endpoint: opts.upstream, region: 'us-east-1', credentials: { accessKeyId: keyId, secretAccessKey: 'testing' }, maxAttempts: 1 })
      byKey.set(keyId, c)
    }
    return c
  }
  const server: Server = createServer((req, res) => {
    const m = req.method === 'POST' ? RRSET_PATH.exec((req.url ?? '').split('?')[0]!) : null
    if (!m) return forward(upstream, req, res)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      void (async () => {
        const zoneId = decodeURIComponent(m[1]!)
        let messages: string[] = []
        try {
          const zone = await zoneRecords(callerClient(req), zoneId)
          messages = validateChangeBatch(zone.name, zone.records, parseChangeBatch(body.toString('utf8')))
        } catch {
          // unknown zone or an unreadable batch: moto answers that itself
        }
        if (!messages.length) return forward(upstream, req, res, body)
        rejected.push(messages)
        opts.log?.(`route53 guard: refused a change batch: ${messages.join('; ')}`)
        res.writeHead(400, { 'content-type': 'text/xml' })
        res.end(invalidChangeBatchXml(messages))
      })()
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    rejected,
    stop: () =>
      new Promise<void>((resolve) => {
        r53.destroy()
        for (const c of byKey.values()) c.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
