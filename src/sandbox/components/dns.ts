import { Packet, UDPServer } from 'dns2'
import type { AddressInfo } from 'node:net'
import { ListResourceRecordSetsCommand, Route53Client, type RRType } from '@aws-sdk/client-route-53'
import type { AwsTestConfig } from './moto.js'

export type DnsRecord =
  | { type: 'A'; address: string; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number }
  /** A delegation: the name servers of a (sub)domain, as its parent zone publishes them. */
  | { type: 'NS'; target: string; ttl?: number }

/** Extra source of records, consulted after the static map (e.g. moto's Route53). */
export type DnsRecordSource = (name: string) => Promise<DnsRecord[]>

export interface TestDnsServer {
  host: '127.0.0.1'
  port: number
  /** '127.0.0.1:PORT', ready for `new Resolver().setServers([server])`. */
  server: string
  /** Mutable: tests change answers while the server runs (propagation checks). */
  records: Map<string, DnsRecord[]>
  set(name: string, records: DnsRecord[]): void
  delete(name: string): void
  stop(): Promise<void>
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '')

/**
 * A real UDP DNS server (dns2) on a loopback port. A queries follow CNAME chains through the
 * same data, the way a recursive resolver would, so an alias to an ALB name resolves when the
 * test also gives that ALB name an A record. Unknown names get NXDOMAIN.
 */
export async function startDnsServer(
  opts: {
    records?: Record<string, DnsRecord[]>
    source?: DnsRecordSource
    /** A fixed port (fault tests start a server again where the stopped one was); default a free one. */
    port?: number
  } = {},
): Promise<TestDnsServer> {
  const records = new Map<string, DnsRecord[]>()
  for (const [name, rs] of Object.entries(opts.records ?? {})) records.set(norm(name), rs)

  const lookup = async (name: string): Promise<DnsRecord[] | undefined> => {
    const local = records.get(norm(name))
    if (local) return local
    const remote = opts.source ? await opts.source(norm(name)) : []
    return remote.length ? remote : undefined
  }

  const answer = async (request: Packet): Promise<Packet> => {
    const response = Packet.createResponseFromRequest(request)
    response.header.aa = 1
    const q = request.questions[0]
    if (!q) return response
    let name = norm(q.name)
    let found = false
    // follow at most 8 CNAME hops
    for (let hop = 0; hop < 8; hop++) {
      const rs = await lookup(name)
      if (!rs) break
      found = true
      const cname = rs.find((r) => r.type === 'CNAME')
      if (cname && cname.type === 'CNAME') {
        response.answers.push({
          name,
          type: Packet.TYPE.CNAME,
          class: Packet.CLASS.IN,
          ttl: cname.ttl ?? 60,
          domain: norm(cname.target),
        } as Packet['answers'][number])
        if (q.type === Packet.TYPE.CNAME) break
        name = norm(cname.target)
        continue
      }
      if (q.type === Packet.TYPE.NS) {
        for (const r of rs)
          if (r.type === 'NS')
            response.answers.push({ name, type: Packet.TYPE.NS, class: Packet.CLASS.IN, ttl: r.ttl ?? 60, ns: norm(r.target) } as Packet['answers'][number])
      }
      if (q.type === Packet.TYPE.A || q.type === Packet.TYPE.ANY) {
        for (const r of rs) {
          if (r.type === 'A') {
            response.answers.push({
              name,
              type: Packet.TYPE.A,
              class: Packet.CLASS.IN,
              ttl: r.ttl ?? 60,
              address: r.address,
            } as Packet['answers'][number])
          }
        }
      }
      break
    }
    if (!found) response.header.rcode = 3 // NXDOMAIN
    return response
  }

  const server = new UDPServer((request, send) => {
    answer(request)
      .then((res) => send(res))
      .catch(() => {
        const res = Packet.createResponseFromRequest(request)
        res.header.rcode = 2 // SERVFAIL
        return send(res)
      })
  })
  await server.listen(opts.port ?? 0, '127.0.0.1')
  let stopped: Promise<void> | undefined
  const { port } = server.address() as AddressInfo
  return {
    host: '127.0.0.1',
    port,
    server: `127.0.0.1:${port}`,
    records,
    set: (name, rs) => void records.set(norm(name), rs),
    delete: (name) => void records.delete(norm(name)),
    // Idempotent: a fault test stops it mid-test and teardown stops it again.
    stop: () => (stopped ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  }
}

/**
 * Answers from the Route53 record sets stored in moto: plain A/CNAME records as they are, alias
 * A records as a CNAME to the alias target (real Route53 would return the target's addresses;
 * give the target an A record in the static map to complete the chain).
 */
export function route53Source(aws: AwsTestConfig, hostedZoneId: string): DnsRecordSource {
  const r53 = new Route53Client(aws)
  return async (name) => {
    const out: DnsRecord[] = []
    // Test zones are small: read them whole (paginated) rather than trusting StartRecordName
    // ordering semantics in moto.
    let start: { StartRecordName?: string; StartRecordType?: RRType } = {}
    for (;;) {
      const res = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, ...start }))
      for (const rr of res.ResourceRecordSets ?? []) {
        if (norm(rr.Name ?? '') !== name) continue
        if (rr.AliasTarget?.DNSName) out.push({ type: 'CNAME', target: norm(rr.AliasTarget.DNSName), ttl: 60 })
        else if (rr.Type === 'A') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'A', address: v.Value ?? '', ttl: rr.TTL })
        else if (rr.Type === 'CNAME') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'CNAME', target: v.Value ?? '', ttl: rr.TTL })
        else if (rr.Type === 'NS') for (const v of rr.ResourceRecords ?? []) out.push({ type: 'NS', target: v.Value ?? '', ttl: rr.TTL })
      }
      if (!res.IsTruncated) break
      start = { StartRecordName: res.NextRecordName, StartRecordType: res.NextRecordType }
    }
    return out
  }
}
