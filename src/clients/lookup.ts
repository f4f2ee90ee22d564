import { Resolver } from 'node:dns/promises'
import { Socket, type LookupFunction } from 'node:net'

/**
 * A `lookup` for net/tls/http connections that asks the given DNS servers ("127.0.0.1:5353")
 * instead of the system resolver, or undefined when none are given (production: the system
 * resolver). The sandbox names its databases the way AWS does (the Aurora cluster endpoint) and
 * answers them from its own DNS server, so every client that connects by name — the HTTP checks,
 * the database check, the stand-in services — resolves through this one function rather than
 * through /etc/hosts. Literal IPv4 addresses and `localhost` never reach the servers.
 */
export function lookupVia(servers: string[] | undefined): LookupFunction | undefined {
  if (!servers?.length) return undefined
  const resolver = new Resolver({ timeout: 2000, tries: 2 })
  resolver.setServers(servers)
  return (hostname, options, callback) => {
    const all = (options as { all?: boolean }).all
    const answer = (addrs: string[]): void => {
      if (all)
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(
          null,
          addrs.map((address) => ({ address, family: 4 })),
        )
      else callback(null, addrs[0]!, 4)
    }
    if (/^[\d.]+$/.test(hostname) || hostname === 'localhost') {
      answer([hostname === 'localhost' ? '127.0.0.1' : hostname])
      return
    }
    resolver.resolve4(hostname).then(answer, (err: NodeJS.ErrnoException) => callback(err, '', 4))
  }
}

/**
 * node-postgres' `stream` option for a custom lookup: pg connects with `socket.connect(port, host)`,
 * which offers no lookup, so the socket it gets turns that call into `connect({port, host, lookup})`.
 * undefined without a lookup (pg's own socket then).
 */
export function pgStreamVia(lookup: LookupFunction | undefined): (() => Socket) | undefined {
  if (!lookup) return undefined
  return () => {
    const socket = new Socket()
    const connect = socket.connect.bind(socket) as (...args: unknown[]) => Socket
    socket.connect = ((...args: unknown[]) =>
      typeof args[0] === 'number' ? connect({ port: args[0], host: args[1] as string, lookup }, ...args.slice(2)) : connect(...args)) as Socket['connect']
    return socket
  }
}
