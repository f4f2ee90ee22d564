import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  AddTagsToResourceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  RDSClient,
  type DBCluster,
  type DBClusterSnapshot,
} from '@aws-sdk/client-rds'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { execa } from 'execa'
import pg from 'pg'
import { RESTORED_FROM_TAG } from '../../steps/rollback/db-target.js'
import type { DnsRecord } from '../components/dns.js'
import type { AwsTestConfig } from '../components/moto.js'
import { postgresBinDir, servePostgresData, serverUser, type TestPostgres } from '../components/postgres.js'
import type { Proc } from '../components/proc.js'
import { makeTempDir, removeTempDir } from '../components/tmp.js'

/** Set on every cluster snapshot the data plane has looked at: `captured` (it holds the data) or `none`. */
export const SANDBOX_DATA_TAG = 'autolytiq:sandbox-data'

export interface RdsDataPlaneOptions {
  aws: AwsTestConfig
  /** Serves the clusters `autolytiq-<envName>` and `autolytiq-<envName>-…` (restores), reading `autolytiq/<envName>/database`. */
  envName: string
  /** The sandbox's PostgreSQL: the database of every cluster that is not a restore. */
  postgres: Pick<TestPostgres, 'host' | 'port' | 'adminUrl'>
  /** Where cluster endpoints are published (the sandbox DNS server). */
  dns: { set(name: string, records: DnsRecord[]): void; delete(name: string): void }
  log(message: string): void
  /** RDS has no watch: how often to look at clusters and snapshots (default 1 s). */
  pollMs?: number
}

export interface RdsDataPlane {
  /** One pass over clusters and snapshots (the loop runs them too). */
  reconcile(): Promise<void>
  /** The address serving a cluster, once its endpoint resolves. */
  address(clusterId: string): string | undefined
  stop(): Promise<void>
}

interface Served {
  names: string[]
  address: string
  port: number
  /** Superuser URL at address:port. */
  adminUrl: string
  /** Snapshots taken before this moment cannot hold its data. */
  since: number
  /** The password of the secret applied to the master user (primary only). */
  applied?: string
  /** A restored cluster runs its own server on its own loopback address. */
  own?: { proc: Proc; dir: string }
}

type Capture = { dir: string } | { none: string }

const POSTGRES_ENGINES = new Set(['aurora-postgresql', 'postgres'])
const ms = (d: Date | string | undefined): number => (d ? new Date(d).getTime() : 0)

async function pages<T>(fetch: (marker?: string) => Promise<{ items?: T[]; marker?: string }>): Promise<T[]> {
  const out: T[] = []
  let marker: string | undefined
  do {
    const page = await fetch(marker)
    out.push(...(page.items ?? []))
    marker = page.marker
  } while (marker)
  return out
}

/**
 * The sandbox's RDS data plane: moto holds the Aurora control plane (clusters, endpoints,
 * snapshots, restores) but no database, so this controller gives every Aurora PostgreSQL cluster
 * of the environment a real one and publishes its endpoint in the sandbox DNS — whoever created
 * the cluster (terraform in phase 2, or a test's seed):
 *
 * - a cluster that is not a restore is served by the sandbox's PostgreSQL, which must listen on
 *   the cluster's Port; its MasterUsername gets the password of `autolytiq/<env>/database` (the
 *   secret the application reads, where terraform writes the password it also gives the
 *   cluster), and its DatabaseName is created;
 * - a cluster snapshot (CreateDBClusterSnapshot by the runbook, AWS Backup or a person) is
 *   captured with pg_basebackup of the cluster's server: the whole cluster, roles included, as an
 *   Aurora snapshot is. The snapshot gets the tag `autolytiq:sandbox-data=captured`; moto makes
 *   snapshots available at once, so a write in the second between the snapshot call and the
 *   capture lands in it. A snapshot taken before the data plane served its cluster cannot hold
 *   data: it gets `none`, and the log says so;
 * - a cluster restored from a captured snapshot (RestoreDBClusterFromSnapshot, recognised by the
 *   `autolytiq:restored-from` tag the database rollback sets — moto records no source) gets its
 *   own PostgreSQL on a copy of that capture, listening on the restored cluster's Port (moto
 *   copies the source's) at its own loopback address, so two clusters share a port the way two
 *   Aurora endpoints do. A restore of a snapshot without data gets no database and a log line.
 *
 * One gap stays: moto reports a restored cluster available at once, while its server starts a
 * second or more later (detection, copy, start); a client in between gets ENOTFOUND, where real
 * Aurora would still say `creating`.
 */
export async function startRdsDataPlane(o: RdsDataPlaneOptions): Promise<RdsDataPlane> {
  const rds = new RDSClient(o.aws)
  const sm = new SecretsManagerClient(o.aws)
  const base = `autolytiq-${o.envName}`
  const secretId = `autolytiq/${o.envName}/database`
  const ours = (id: string | undefined): boolean => id === base || Boolean(id?.startsWith(`${base}-`))
  const served = new Map<string, Served>()
  const captures = new Map<string, Capture>()
  const work = makeTempDir('rds-data-plane')
  chmodSync(work, 0o755) // the server user reaches its data directories below
  const owner = serverUser()
  const bin = postgresBinDir()
  let nextHost = 2
  let stopped = false

  // The same problem is reported once, not on every pass.
  const said = new Map<string, string>()
  const say = (key: string, message: string): void => {
    if (said.get(key) === message) return
    said.set(key, message)
    o.log(`rds data plane: ${message}`)
  }

  const ownedDir = (path: string): string => {
    rmSync(path, { recursive: true, force: true })
    mkdirSync(path, { mode: 0o700 })
    if (owner.uid !== undefined && owner.gid !== undefined) chownSync(path, owner.uid, owner.gid)
    return path
  }

  const publish = (id: string, c: DBCluster, s: Served): void => {
    for (const name of s.names) o.dns.set(name, [{ type: 'A', address: s.address, ttl: 5 }])
    served.set(id, s)
    o.log(`rds data plane: ${id} -> PostgreSQL ${s.address}:${s.port} (${c.Endpoint})`)
  }

  const retire = async (id: string, s: Served, why: string): Promise<void> => {
    served.delete(id)
    for (const name of s.names) o.dns.delete(name)
    if (s.own) {
      await s.own.proc.stop()
      removeTempDir(s.own.dir)
    }
    o.log(`rds data plane: ${id}: ${why}; its endpoint no longer resolves`)
  }

  /** The master user and database of a primary cluster, with the password the application reads. */
  const applyCredentials = async (id: string, c: DBCluster, s: Omit<Served, 'applied'> & { applied?: string }): Promise<boolean> => {
    let values: { username?: string; password?: string; dbname?: string }
    try {
      values = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as typeof values
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err
      say(id, `${id}: waiting for the secret ${secretId} (the master password) before serving ${c.Endpoint}`)
      return false
    }
    const master = c.MasterUsername
    if (!values.password || !master || values.username !== master) {
      say(
        id,
        `${id}: ${secretId} holds no password for the master user ${c.MasterUsername} (username ${values.username ?? 'absent'}); ${c.Endpoint} not served`,
      )
      return false
    }
    if (s.applied === values.password) return true
    const admin = new pg.Client({ connectionString: s.adminUrl, connectionTimeoutMillis: 5000 })
    await admin.connect()
    try {
      const user = admin.escapeIdentifier(master)
      const exists = (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [master])).rowCount
      await admin.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${user} LOGIN PASSWORD ${admin.escapeLiteral(values.password)}`)
      const db = c.DatabaseName ?? values.dbname
      if (db && !(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount)
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(db)} OWNER ${user}`)
      else if (db) {
        // The server's database already exists under another owner (the sandbox's PostgreSQL makes
        // `autolytiq` at start): give the master user what Aurora's has in its initial database,
        // all rights on it and its public schema (PostgreSQL 15 grants CREATE there to the owner only).
        await admin.query(`GRANT ALL ON DATABASE ${admin.escapeIdentifier(db)} TO ${user}`)
        const url = new URL(s.adminUrl)
        url.pathname = `/${encodeURIComponent(db)}`
        const inDb = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 })
        await inDb.connect()
        try {
          await inDb.query(`GRANT ALL ON SCHEMA public TO ${user}`)
        } finally {
          await inDb.end().catch(() => {})
        }
      }
    } finally {
      await admin.end().catch(() => {})
    }
    s.applied = values.password
    return true
  }

  const servePrimary = async (id: string, c: DBCluster, earlier?: DBClusterSnapshot[]): Promise<void> => {
    if (c.Port !== o.postgres.port) {
      say(
        id,
        `${id} says port ${c.Port}, the sandbox's PostgreSQL listens on ${o.postgres.port}: create the cluster with Port ${o.postgres.port}; ${c.Endpoint} not served`,
      )
      return refuseEarlier(earlier, `its cluster ${id} has no database in the sandbox (port ${c.Port})`)
    }
    const s: Served = {
      names: [c.Endpoint!, ...(c.ReaderEndpoint ? [c.ReaderEndpoint] : [])],
      address: o.postgres.host,
      port: o.postgres.port,
      adminUrl: o.postgres.adminUrl,
      since: Date.now(),
    }
    if (!(await applyCredentials(id, c, s))) return // waiting for the secret: its snapshots wait too
    await captureEarlier(s, earlier)
    publish(id, c, s)
  }

  const serveRestore = async (id: string, c: DBCluster, snapshotId: string, earlier?: DBClusterSnapshot[]): Promise<void> => {
    const capture = captures.get(snapshotId)
    if (!capture || 'none' in capture) {
      say(
        id,
        `${id} was restored from ${snapshotId}, which holds no data in the sandbox (${capture && 'none' in capture ? capture.none : 'a snapshot of another environment or one deleted'}); no database answers at ${c.Endpoint}`,
      )
      return refuseEarlier(earlier, `its cluster ${id} has no database in the sandbox (restored from ${snapshotId}, which holds none)`)
    }
    const port = c.Port ?? 5432
    const host = `127.0.0.${nextHost++}`
    const dir = makeTempDir(`rds-${id}`)
    chmodSync(dir, 0o755)
    try {
      const data = join(dir, 'data')
      await execa('cp', ['-a', capture.dir, data]) // -a keeps the server user's ownership
      const adminUrl = new URL(o.postgres.adminUrl)
      adminUrl.hostname = host
      adminUrl.port = String(port)
      const proc = await servePostgresData({
        name: `postgres-${id}`,
        data,
        sock: ownedDir(join(dir, 'sock')),
        host,
        port,
        logDir: dir,
        adminUrl: adminUrl.toString(),
      })
      const s: Served = {
        names: [c.Endpoint!, ...(c.ReaderEndpoint ? [c.ReaderEndpoint] : [])],
        address: host,
        port,
        adminUrl: adminUrl.toString(),
        since: Date.now(),
        own: { proc, dir },
      }
      // moto's automated snapshot of the restore holds what the restore started from: the same capture
      for (const snap of earlier ?? []) await mark(snap, capture)
      publish(id, c, s)
    } catch (err) {
      removeTempDir(dir)
      throw err
    }
  }

  const mark = async (snap: DBClusterSnapshot, capture: Capture): Promise<void> => {
    captures.set(snap.DBClusterSnapshotIdentifier!, capture)
    if (snap.DBClusterSnapshotArn)
      await rds.send(
        new AddTagsToResourceCommand({
          ResourceName: snap.DBClusterSnapshotArn,
          Tags: [{ Key: SANDBOX_DATA_TAG, Value: 'dir' in capture ? 'captured' : 'none' }],
        }),
      )
  }

  /** pg_basebackup of the server behind `source`: the cluster as the snapshot saw it. */
  const capture = async (snap: DBClusterSnapshot, source: Served): Promise<void> => {
    const id = snap.DBClusterSnapshotIdentifier!
    const dir = ownedDir(join(work, id.replace(/[^A-Za-z0-9._-]/g, '_')))
    const admin = new URL(source.adminUrl)
    await execa(
      bin ? join(bin, 'pg_basebackup') : 'pg_basebackup',
      [
        '-h',
        source.address,
        '-p',
        String(source.port),
        '-U',
        decodeURIComponent(admin.username),
        '-D',
        dir,
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
        '--no-manifest',
        '-w',
      ],
      { ...owner, env: { PGPASSWORD: decodeURIComponent(admin.password) }, timeout: 120_000 },
    )
    await mark(snap, { dir })
    const lag = Math.max(0, (Date.now() - ms(snap.SnapshotCreateTime)) / 1000)
    o.log(`rds data plane: snapshot ${id} of ${snap.DBClusterIdentifier} captured (pg_basebackup, ${lag.toFixed(1)} s after it was taken)`)
  }

  /** Snapshots taken before their cluster was served hold its initial state: captured before its endpoint resolves. */
  const captureEarlier = async (s: Served, earlier: DBClusterSnapshot[] | undefined): Promise<void> => {
    for (const snap of earlier ?? []) await capture(snap, s)
  }

  const refuseEarlier = async (earlier: DBClusterSnapshot[] | undefined, why: string): Promise<void> => {
    for (const snap of earlier ?? []) {
      say(`snapshot ${snap.DBClusterSnapshotIdentifier}`, `snapshot ${snap.DBClusterSnapshotIdentifier} holds no data: ${why}`)
      await mark(snap, { none: why })
    }
  }

  const reconcile = async (): Promise<void> => {
    const [clusters, snapshots] = await Promise.all([
      pages<DBCluster>(async (Marker) => {
        const r = await rds.send(new DescribeDBClustersCommand({ Marker }))
        return { items: r.DBClusters, marker: r.Marker }
      }),
      pages<DBClusterSnapshot>(async (Marker) => {
        const r = await rds.send(new DescribeDBClusterSnapshotsCommand({ Marker }))
        return { items: r.DBClusterSnapshots, marker: r.Marker }
      }),
    ])
    const mine = clusters.filter((c) => ours(c.DBClusterIdentifier) && POSTGRES_ENGINES.has(c.Engine ?? ''))
    for (const [id, s] of served) if (!mine.some((c) => c.DBClusterIdentifier === id)) await retire(id, s, 'deleted')

    const snaps = snapshots.filter((s) => ours(s.DBClusterIdentifier))
    for (const [id, c] of captures)
      if (!snaps.some((s) => s.DBClusterSnapshotIdentifier === id)) {
        captures.delete(id)
        const shared = [...captures.values()].some((x) => 'dir' in x && 'dir' in c && x.dir === c.dir)
        if ('dir' in c && !shared) rmSync(c.dir, { recursive: true, force: true })
      }
    // Snapshots before clusters: a restore seen in the same pass as its snapshot finds the capture.
    // Nothing can write to a cluster before its endpoint resolves, so a snapshot taken before that
    // (moto takes an automated one at creation) is captured just before the endpoint is published.
    const earlier = new Map<string, DBClusterSnapshot[]>()
    for (const snap of snaps) {
      const id = snap.DBClusterSnapshotIdentifier!
      const cluster = snap.DBClusterIdentifier!
      if (captures.has(id) || snap.Status !== 'available') continue // done, or still being made
      const source = served.get(cluster)
      if (!source && mine.some((c) => c.DBClusterIdentifier === cluster)) earlier.set(cluster, [...(earlier.get(cluster) ?? []), snap])
      else if (!source) await refuseEarlier([snap], `its cluster ${cluster} has no database in the sandbox`)
      else if (ms(snap.SnapshotCreateTime) < source.since) await refuseEarlier([snap], `taken before the sandbox's data plane served ${cluster}`)
      else await capture(snap, source)
    }

    // restores last: their source's snapshot may be captured by serving the source in this pass
    const restoredFrom = (c: DBCluster): string | undefined => c.TagList?.find((t) => t.Key === RESTORED_FROM_TAG)?.Value
    for (const c of [...mine].sort((a, b) => Number(Boolean(restoredFrom(a))) - Number(Boolean(restoredFrom(b))))) {
      const id = c.DBClusterIdentifier!
      const s = served.get(id)
      if (s) {
        if (!s.own) await applyCredentials(id, c, s) // the secret's password follows rotations
        continue
      }
      if (!c.Endpoint || c.Status === 'deleting') continue
      const from = restoredFrom(c)
      await (from ? serveRestore(id, c, from, earlier.get(id)) : servePrimary(id, c, earlier.get(id)))
    }
  }

  // passes never overlap: the loop's and any asked for by reconcile()
  let chain: Promise<void> = Promise.resolve()
  const serial = (): Promise<void> => (chain = chain.catch(() => {}).then(reconcile))
  let timer: NodeJS.Timeout | undefined
  const loop = (): void => {
    void serial()
      .catch((err: Error) => say('loop', `${err.message.split('\n')[0]} (retrying)`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, o.pollMs ?? 1000)
      })
  }
  await serial()
  timer = setTimeout(loop, o.pollMs ?? 1000)

  return {
    reconcile: serial,
    address: (id) => served.get(id)?.address,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await chain.catch(() => {})
      for (const [id, s] of served) if (s.own) await retire(id, s, 'the sandbox stops')
      removeTempDir(work)
      rds.destroy()
      sm.destroy()
    },
  }
}
