import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { execa, execaSync } from 'execa'
import pg from 'pg'
import { freePort } from './ports.js'
import { spawnProcess, type Proc } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { waitFor } from './wait.js'

export interface TestPostgres {
  /** postgres://autolytiq:PASSWORD@127.0.0.1:PORT/autolytiq (password auth, owner of the db) */
  url: string
  /** Superuser URL (postgres/PASSWORD), for tests that need to create or drop databases. */
  adminUrl: string
  host: '127.0.0.1'
  port: number
  user: string
  password: string
  database: string
  /** Take the server down (fast shutdown) to test failure paths; data is kept. */
  stopServer(): Promise<void>
  /** Start it again on the same port with the same data. */
  startServer(): Promise<void>
  stop(): Promise<void>
}

/** Directory with initdb/postgres: $AUTOLYTIQ_PG_BIN, the newest /usr/lib/postgresql/N/bin, or PATH. */
export function postgresBinDir(): string {
  if (process.env.AUTOLYTIQ_PG_BIN) return process.env.AUTOLYTIQ_PG_BIN
  const base = '/usr/lib/postgresql'
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    versions.sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(base, versions[0], 'bin')
  }
  return '' // rely on PATH
}

/** initdb and postgres refuse to run as root: when we are root, run them as `postgres` (or nobody). */
export function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {}
  for (const name of ['postgres', 'nobody']) {
    const r = execaSync('id', ['-u', name], { reject: false })
    if (r.exitCode === 0) {
      const gid = execaSync('id', ['-g', name]).stdout
      return { uid: Number(r.stdout), gid: Number(gid) }
    }
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists')
}

export async function startPostgres(opts: { timeoutMs?: number } = {}): Promise<TestPostgres> {
  const bin = postgresBinDir()
  const exe = (name: string) => (bin ? join(bin, name) : name)
  const dir = makeTempDir('postgres')
  const data = join(dir, 'data')
  const sock = join(dir, 'sock')
  const user = serverUser()
  // mkdtemp makes a 0700 root dir; the server user must be able to reach its data and socket
  chmodSync(dir, 0o755)
  mkdirSync(data, { mode: 0o700 })
  mkdirSync(sock, { mode: 0o700 })
  const pwFile = join(dir, 'pwfile')
  const superPassword = randomBytes(12).toString('hex')
  writeFileSync(pwFile, superPassword + '\n', { mode: 0o600 })
  if (user.uid !== undefined && user.gid !== undefined) {
    for (const p of [data, sock, pwFile]) chownSync(p, user.uid, user.gid)
  }

  // -N: no fsync, a throwaway cluster. Password (scram) auth over TCP, trust only on the socket.
  const init = await execa(
    exe('initdb'),
    [
      '-D',
      data,
      '-U',
      'postgres',
      '--pwfile',
      pwFile,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '-N',
      '--no-instructions',
    ],
    { ...user, reject: false, timeout: 120_000 },
  )
  if (init.exitCode !== 0) {
    removeTempDir(dir)
    throw new Error(`initdb failed (exit ${init.exitCode}):\n${init.stderr || init.stdout}`)
  }

  const port = await freePort()
  const password = randomBytes(12).toString('hex')
  const adminUrl = `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres`
  const url = `postgres://autolytiq:${password}@127.0.0.1:${port}/autolytiq`
  let proc: Proc | undefined
  const startServer = async () => {
    if (proc && !proc.exitInfo()) return
    proc = await servePostgresData({ name: 'postgres', data, sock, host: '127.0.0.1', port, logDir: dir, adminUrl, timeoutMs: opts.timeoutMs })
  }
  const stopServer = async () => {
    await proc?.stop()
  }
  const stop = async () => {
    await stopServer()
    removeTempDir(dir)
  }

  try {
    await startServer()
    const c = new pg.Client({ connectionString: adminUrl })
    await c.connect()
    try {
      await c.query(`CREATE ROLE autolytiq LOGIN PASSWORD '${password}'`)
      await c.query('CREATE DATABASE autolytiq OWNER autolytiq')
    } finally {
      await c.end()
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    url,
    adminUrl,
    host: '127.0.0.1',
    port,
    user: 'autolytiq',
    password,
    database: 'autolytiq',
    stopServer,
    startServer,
    stop,
  }
}

/**
 * Runs `postgres` on a data directory (a fresh initdb, or a copy of a base backup) at `host:port`
 * and waits until `adminUrl` (host and port replaced) answers. `postgres` runs in the foreground
 * in our own process group rather than via `pg_ctl start`, which setsid()s the postmaster away
 * from us and would let it outlive a crashed test run. Any loopback address works as `host`
 * (127.0.0.0/8): several servers can share one port, each on its own address.
 */
export async function servePostgresData(o: {
  name: string
  data: string
  /** Directory for the Unix socket, owned by the server user. */
  sock: string
  host: string
  port: number
  logDir: string
  /** A superuser URL of the cluster in `data`, for the readiness probe. */
  adminUrl: string
  timeoutMs?: number
}): Promise<Proc> {
  const bin = postgresBinDir()
  const proc = spawnProcess({
    name: o.name,
    command: bin ? join(bin, 'postgres') : 'postgres',
    // -N-like settings of a throwaway cluster: no fsync, no durability waits.
    args: [
      '-D',
      o.data,
      '-p',
      String(o.port),
      '-c',
      `listen_addresses=${o.host}`,
      '-c',
      `unix_socket_directories=${o.sock}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    logDir: o.logDir,
    ...serverUser(),
    stopSignal: 'SIGINT', // fast shutdown: disconnect clients, no waiting
  })
  const probeUrl = new URL(o.adminUrl)
  probeUrl.hostname = o.host
  probeUrl.port = String(o.port)
  try {
    await waitFor(
      o.name,
      async () => {
        const c = new pg.Client({ connectionString: probeUrl.toString(), connectionTimeoutMillis: 1000 })
        try {
          await c.connect()
          await c.query('SELECT 1')
          return true
        } finally {
          await c.end().catch(() => {})
        }
      },
      { timeoutMs: o.timeoutMs ?? 60_000, intervalMs: 100, procs: [proc] },
    )
  } catch (err) {
    await proc.stop()
    throw err
  }
  return proc
}
