/**
 * The sandbox's RDS data plane (src/sandbox/controllers/rds-data-plane.ts) on the harness' moto,
 * its own real PostgreSQL and its own DNS server: the Aurora control plane in moto, the data in
 * PostgreSQL, every connection by the cluster endpoint name through the DNS server (the same
 * lookup the database check and the stand-ins use). A cluster snapshot captures the data; a
 * restore of it is a new endpoint on its own server holding the data as it was; the old cluster
 * keeps the newer data.
 */
import { randomBytes } from 'node:crypto'
import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  CreateDBClusterCommand,
  CreateDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds'
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import pg from 'pg'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { startPostgres, type TestPostgres } from '../harness/postgres.js'
import { lookupVia, pgStreamVia } from '../../src/clients/lookup.js'
import { SANDBOX_DATA_TAG, startRdsDataPlane, type RdsDataPlane } from '../../src/sandbox/controllers/rds-data-plane.js'
import { RESTORED_FROM_TAG } from '../../src/steps/rollback/db-target.js'

const aws = inject('aws')
const suffix = randomBytes(3).toString('hex')
const ENV = `rdp-${suffix}`
const CLUSTER = `autolytiq-${ENV}`
const SECRET_ID = `autolytiq/${ENV}/database`
// not the password startPostgres gave its role: the data plane must apply the secret's
const PASSWORD = `pw-${randomBytes(10).toString('hex')}`

let postgres: TestPostgres
let dns: TestDnsServer
let plane: RdsDataPlane
let rds: RDSClient
let sm: SecretsManagerClient
const logs: string[] = []

const cfg = () => ({
  endpoint: aws!.endpoint,
  region: aws!.region,
  credentials: { accessKeyId: aws!.accessKeyId, secretAccessKey: aws!.secretAccessKey },
  forcePathStyle: true,
})

async function cluster(id: string) {
  return (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0]!
}

/** Connects as the application does: the endpoint name, resolved by the sandbox DNS. */
async function query<T extends pg.QueryResultRow>(host: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({
    host,
    port: postgres.port,
    user: 'autolytiq',
    password: PASSWORD,
    database: 'desk',
    connectionTimeoutMillis: 3000,
    stream: pgStreamVia(lookupVia([dns.server])),
  })
  await c.connect()
  try {
    return (await c.query<T>(sql, params)).rows
  } finally {
    await c.end()
  }
}

async function resolves(name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 1 })
  r.setServers([dns.server])
  return r.resolve4(name).catch(() => [])
}

async function snapshotTag(id: string): Promise<string | undefined> {
  const s = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))).DBClusterSnapshots![0]!
  return s.TagList?.find((t) => t.Key === SANDBOX_DATA_TAG)?.Value
}

describe.skipIf(!aws)('sandbox RDS data plane: Aurora clusters in moto served by real PostgreSQL', () => {
  beforeAll(async () => {
    ;[postgres, dns] = await Promise.all([startPostgres(), startDnsServer()])
    rds = new RDSClient(cfg())
    sm = new SecretsManagerClient(cfg())
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: CLUSTER,
        Engine: 'aurora-postgresql',
        EngineVersion: '15.4',
        DatabaseName: 'desk',
        MasterUsername: 'autolytiq',
        MasterUserPassword: PASSWORD,
        Port: postgres.port,
      }),
    )
    plane = await startRdsDataPlane({ aws: cfg(), envName: ENV, postgres, dns, log: (m) => logs.push(m), pollMs: 60_000 })
  }, 60_000)

  afterAll(async () => {
    await plane?.stop()
    await Promise.all([postgres?.stop(), dns?.stop()])
    rds?.destroy()
    sm?.destroy()
  })

  it('serves a cluster only once its secret holds the master password, then by its endpoint name with that password', async () => {
    const c = await cluster(CLUSTER)
    expect(await resolves(c.Endpoint!)).toEqual([])
    expect(logs.join('\n')).toContain(`waiting for the secret ${SECRET_ID}`)

    const secret = { engine: 'postgres', host: c.Endpoint, port: c.Port, dbname: 'desk', username: 'autolytiq', password: PASSWORD }
    await sm.send(new CreateSecretCommand({ Name: SECRET_ID, SecretString: JSON.stringify(secret) }))
    await plane.reconcile()
    expect(await resolves(c.Endpoint!)).toEqual(['127.0.0.1'])
    expect(await resolves(c.ReaderEndpoint!)).toEqual(['127.0.0.1'])
    // moto's automated snapshot at creation: taken before anything could write (the endpoint did
    // not resolve), so it is captured as the cluster's initial state before the endpoint is published
    const automated = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: CLUSTER, SnapshotType: 'automated' }))).DBClusterSnapshots!
    expect(automated.length).toBeGreaterThan(0)
    for (const snap of automated) expect(await snapshotTag(snap.DBClusterSnapshotIdentifier!)).toBe('captured')
    await query(c.Endpoint!, 'CREATE TABLE deals (id text PRIMARY KEY, price int NOT NULL)')
    await query(c.Endpoint!, "INSERT INTO deals VALUES ('d1', 100)")

    // a rotated password in the secret is applied to the master user
    const rotated = `${PASSWORD}-rotated`
    await sm.send(new PutSecretValueCommand({ SecretId: SECRET_ID, SecretString: JSON.stringify({ ...secret, password: rotated }) }))
    await plane.reconcile()
    await expect(query(c.Endpoint!, 'SELECT 1')).rejects.toMatchObject({ code: '28P01' })
    await sm.send(new PutSecretValueCommand({ SecretId: SECRET_ID, SecretString: JSON.stringify(secret) }))
    await plane.reconcile()
    expect(await query(c.Endpoint!, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }])
  })

  it('a snapshot captures the data; its restore is a new endpoint, same port, with the data as it was; the old cluster is kept', async () => {
    const snapshot = `${CLUSTER}-before-change`
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: CLUSTER, DBClusterSnapshotIdentifier: snapshot }))
    await plane.reconcile()
    expect(await snapshotTag(snapshot)).toBe('captured')
    const old = await cluster(CLUSTER)
    await query(old.Endpoint!, "UPDATE deals SET price = 999 WHERE id = 'd1'")

    const restoredId = `${CLUSTER}-restored-0a1b2c3d`
    await rds.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: restoredId,
        SnapshotIdentifier: snapshot,
        Engine: 'aurora-postgresql',
        Port: old.Port,
        Tags: [{ Key: RESTORED_FROM_TAG, Value: snapshot }],
      }),
    )
    await plane.reconcile()
    const restored = await cluster(restoredId)
    // moto gives the restore the source's port: a server of its own on another loopback address
    expect(restored.Port).toBe(postgres.port)
    expect(restored.Endpoint).not.toBe(old.Endpoint)
    const [address] = await resolves(restored.Endpoint!)
    expect(address).toMatch(/^127\.0\.0\.\d+$/)
    expect(address).not.toBe('127.0.0.1')
    expect(plane.address(restoredId)).toBe(address)
    // moto's automated snapshot of the restore holds what the restore started from
    const automated = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: restoredId, SnapshotType: 'automated' })))
      .DBClusterSnapshots!
    for (const snap of automated) expect(await snapshotTag(snap.DBClusterSnapshotIdentifier!)).toBe('captured')

    expect(await query(restored.Endpoint!, "SELECT price FROM deals WHERE id = 'd1'")).toEqual([{ price: 100 }])
    expect(await query(old.Endpoint!, "SELECT price FROM deals WHERE id = 'd1'")).toEqual([{ price: 999 }])
    // two databases: a write to the restore does not reach the old cluster
    await query(restored.Endpoint!, "INSERT INTO deals VALUES ('d2', 5)")
    expect(await query(old.Endpoint!, 'SELECT count(*)::int AS n FROM deals')).toEqual([{ n: 1 }])
  }, 60_000)

  it('a restore of a snapshot the data plane never captured gets no database, and says why', async () => {
    // a cluster on another port is never served, so its snapshot cannot hold data
    const other = `${CLUSTER}-elsewhere`
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: other,
        Engine: 'aurora-postgresql',
        MasterUsername: 'autolytiq',
        MasterUserPassword: PASSWORD,
        Port: 1,
      }),
    )
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: other, DBClusterSnapshotIdentifier: `${other}-snap` }))
    await rds.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: `${other}-restored`,
        SnapshotIdentifier: `${other}-snap`,
        Engine: 'aurora-postgresql',
        Tags: [{ Key: RESTORED_FROM_TAG, Value: `${other}-snap` }],
      }),
    )
    await plane.reconcile()
    expect(await snapshotTag(`${other}-snap`)).toBe('none')
    expect(await resolves((await cluster(`${other}-restored`)).Endpoint!)).toEqual([])
    const said = logs.join('\n')
    expect(said).toContain(`${other} says port 1, the sandbox's PostgreSQL listens on ${postgres.port}`)
    expect(said).toContain(`${other}-restored was restored from ${other}-snap, which holds no data in the sandbox`)
  })
})
