/**
 * One stand-in service process (`node dist/sandbox/standin.js`), started by the sandbox
 * supervisor once per Deployment in the catalog. The sandbox has no container runtime, so this
 * small program answers for the service: health, metrics and the smoke-test endpoints, with its
 * data in the sandbox's PostgreSQL. The HTTPS gateway only forwards to it while the service's
 * Kubernetes endpoints are ready, so what runs in the cluster still decides what is reachable.
 *
 * Environment: SERVICE_NAME, PORT, HEALTH_PATH, DEPENDS_ON (comma list), DATABASE_URL (optional), JWT_SECRET,
 * DNS_SERVERS (comma list: where the database host, an Aurora endpoint, resolves),
 * IMAGE_FILE (optional: the image the cluster runs for it, whose tag may ask for faults).
 *
 * A pod reads its environment when it starts: when the supervisor sees the first pod of this
 * service start, or new pods after the Kubernetes Secret changed (a database rollback), it sends
 * `{ DATABASE_URL }` over the IPC channel and the stand-in moves to that database
 * (controllers/standin-env.ts). Before that its health answers 503: there is no database yet.
 */
import { createServer } from 'node:http'
import { createStandinHandler } from './standin/app.js'
import { Behaviour } from './standin/misbehaviour.js'
import { Store } from './standin/store.js'

function required(name: string): string {
  const v = process.env[name]
  if (!v) {
    process.stderr.write(`standin: ${name} is not set\n`)
    process.exit(2)
  }
  return v
}

const service = required('SERVICE_NAME')
const port = Number(required('PORT'))
// No DATABASE_URL until the service's pod starts: the supervisor sends it then (below).
const store = new Store(process.env.DATABASE_URL || undefined, (process.env.DNS_SERVERS ?? '').split(',').filter(Boolean))

if (process.env.DATABASE_URL) {
  // Started with a database: a short retry covers PostgreSQL still accepting connections.
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      await store.migrateNow()
      break
    } catch (err) {
      if (Date.now() > deadline) {
        process.stderr.write(`standin ${service}: database not reachable: ${(err as Error).message}\n`)
        process.exit(1)
      }
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

const behaviour = new Behaviour((image, m) =>
  process.stdout.write(`standin ${service}: now running ${image} (5xx share ${m.errorShare * 100}%, added latency ${m.delayMs} ms)\n`),
)
if (process.env.IMAGE_FILE) behaviour.followFile(process.env.IMAGE_FILE)

const { handle } = createStandinHandler({
  service,
  healthPath: required('HEALTH_PATH'),
  dependsOn: (process.env.DEPENDS_ON ?? '').split(',').filter(Boolean),
  jwtSecret: required('JWT_SECRET'),
  store,
  behaviour,
})
process.on('message', (m: { DATABASE_URL?: string }) => {
  if (!m.DATABASE_URL) return
  store.switchTo(m.DATABASE_URL).then(
    () => process.stdout.write(`standin ${service}: new DATABASE_URL (${new URL(m.DATABASE_URL!).host})\n`),
    (err: Error) => process.stderr.write(`standin ${service}: new DATABASE_URL (${new URL(m.DATABASE_URL!).host}) not usable yet: ${err.message}\n`),
  )
})

const server = createServer(handle)
server.keepAliveTimeout = 5_000
server.listen(port, '127.0.0.1', () => process.stdout.write(`standin ${service} listening on 127.0.0.1:${port}\n`))

const shutdown = (): void => {
  server.closeAllConnections()
  server.close(() => void store.close().finally(() => process.exit(0)))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
