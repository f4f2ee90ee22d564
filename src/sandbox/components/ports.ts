import { createServer } from 'node:net'

/**
 * A free TCP port on 127.0.0.1, found by letting the kernel pick one (bind to port 0).
 * There is a small window between closing this probe socket and the component binding the
 * port; ports handed out in this process are remembered so two components started in the same
 * run never receive the same number.
 */
const handedOut = new Set<number>()

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.unref()
      srv.on('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address()
        srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: could not find an unused loopback port')
}
