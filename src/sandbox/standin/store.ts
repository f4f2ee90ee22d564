import { randomUUID, scryptSync, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Socket } from 'node:net'
import pg from 'pg'
import { lookupVia, pgStreamVia } from '../../clients/lookup.js'

/**
 * The stand-ins keep their data in the sandbox's real PostgreSQL (the DATABASE_URL the ExternalSecret composes from
 * terraform's secret in Secrets Manager), so a user registered through user-service can log in through auth-service,
 * and a database outage really fails the health of every service that depends on it.
 */
const SCHEMA_LOCK = 727_001 // pg_advisory_lock key: eleven stand-ins start at once

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sandbox_users (id text PRIMARY KEY, email text UNIQUE NOT NULL, name text NOT NULL, password_hash text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS sandbox_deals (id text PRIMARY KEY, customer_name text NOT NULL, vehicle_vin text NOT NULL, price numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS sandbox_customers (id text PRIMARY KEY, name text NOT NULL, email text NOT NULL);
CREATE TABLE IF NOT EXISTS sandbox_vehicles (vin text PRIMARY KEY, make text NOT NULL, model text NOT NULL, year int NOT NULL, price numeric NOT NULL);
`

// A dealership that is never empty: the smoke test's "deal listing returns results" needs a deal.
const SEED = `
INSERT INTO sandbox_deals (id, customer_name, vehicle_vin, price) VALUES ('deal-seed-1', 'Jane Smith', '2HGFC2F59JH000001', 24500) ON CONFLICT DO NOTHING;
INSERT INTO sandbox_customers (id, name, email) VALUES ('cust-seed-1', 'Jane Smith', 'jane.smith@example.test'), ('cust-seed-2', 'Sam Smithers', 'sam@example.test') ON CONFLICT DO NOTHING;
INSERT INTO sandbox_vehicles (vin, make, model, year, price) VALUES ('2HGFC2F59JH000001', 'honda', 'Civic', 2024, 24500), ('5FNRL6H78LB000002', 'honda', 'Odyssey', 2025, 41200), ('1FTFW1E50MF000003', 'ford', 'F-150', 2025, 52000) ON CONFLICT DO NOTHING;
`

export interface User {
  id: string
  email: string
  name: string
}

export interface Deal {
  id: string
  customerName: string
  vehicleVin: string
  price: number
}

function hashPassword(password: string): string {
  const salt = randomBytes(16)
  return `${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`
}

function passwordMatches(password: string, stored: string): boolean {
  const [salt, hash] = stored.split(':')
  if (!salt || !hash) return false
  const given = scryptSync(password, Buffer.from(salt, 'hex'), 32)
  return timingSafeEqual(given, Buffer.from(hash, 'hex'))
}

export class Store {
  private pool?: pg.Pool
  /** The schema and seed rows, once per database (retried on the next query when it failed). */
  private schema?: Promise<void>
  private readonly stream?: () => Socket

  /**
   * `databaseUrl`: none until the service's pod starts (the Secret's DATABASE_URL reaches the
   * stand-in then, see switchTo); queries fail with a clear message meanwhile.
   * `dnsServers`: where the database host name resolves (the sandbox DNS answers Aurora endpoints).
   */
  constructor(databaseUrl: string | undefined, dnsServers?: string[]) {
    this.stream = pgStreamVia(lookupVia(dnsServers))
    if (databaseUrl) this.pool = this.connect(databaseUrl)
  }

  private connect(databaseUrl: string): pg.Pool {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 2000, idleTimeoutMillis: 10_000, stream: this.stream })
    pool.on('error', () => {}) // an idle client lost with the server: the next query reports it
    return pool
  }

  /** The pool, its schema in place. */
  private async db(): Promise<pg.Pool> {
    const pool = this.pool
    if (!pool) throw new Error('no DATABASE_URL yet (its pod has not started)')
    this.schema ??= this.migrate(pool).catch((err: unknown) => {
      this.schema = undefined
      throw err
    })
    await this.schema
    return pool
  }

  /**
   * A new DATABASE_URL, as new pods of the service get it from the Secret (the first pod, or a
   * database rollback): later queries go to the new database, the old pool is closed.
   */
  async switchTo(databaseUrl: string): Promise<void> {
    const old = this.pool
    this.pool = this.connect(databaseUrl)
    this.schema = undefined
    await old?.end().catch(() => {})
    await this.db()
  }

  /** Creates the schema now (a start with a DATABASE_URL), instead of on the first query. */
  async migrateNow(): Promise<void> {
    await this.db()
  }

  private async migrate(pool: pg.Pool): Promise<void> {
    const c = await pool.connect()
    try {
      await c.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK])
      await c.query(SCHEMA)
      await c.query(SEED)
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => {})
      c.release()
    }
  }

  async ping(): Promise<void> {
    await (await this.db()).query('SELECT 1')
  }

  async createUser(email: string, name: string, password: string): Promise<User | undefined> {
    const id = randomUUID()
    const r = await (
      await this.db()
    ).query('INSERT INTO sandbox_users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING id', [
      id,
      email,
      name,
      hashPassword(password),
    ])
    return r.rowCount ? { id, email, name } : undefined
  }

  async deleteUser(id: string): Promise<boolean> {
    return ((await (await this.db()).query('DELETE FROM sandbox_users WHERE id = $1', [id])).rowCount ?? 0) > 0
  }

  async authenticate(email: string, password: string): Promise<User | undefined> {
    const r = await (
      await this.db()
    ).query<{ id: string; email: string; name: string; password_hash: string }>('SELECT id, email, name, password_hash FROM sandbox_users WHERE email = $1', [
      email,
    ])
    const row = r.rows[0]
    if (!row || !passwordMatches(password, row.password_hash)) return undefined
    return { id: row.id, email: row.email, name: row.name }
  }

  async listDeals(): Promise<Deal[]> {
    const r = await (
      await this.db()
    ).query<{ id: string; customer_name: string; vehicle_vin: string; price: string }>(
      'SELECT id, customer_name, vehicle_vin, price FROM sandbox_deals ORDER BY created_at DESC LIMIT 50',
    )
    return r.rows.map((d) => ({ id: d.id, customerName: d.customer_name, vehicleVin: d.vehicle_vin, price: Number(d.price) }))
  }

  async createDeal(customerName: string, vehicleVin: string, price: number): Promise<Deal> {
    const id = randomUUID()
    await (
      await this.db()
    ).query('INSERT INTO sandbox_deals (id, customer_name, vehicle_vin, price) VALUES ($1, $2, $3, $4)', [id, customerName, vehicleVin, price])
    return { id, customerName, vehicleVin, price }
  }

  async deleteDeal(id: string): Promise<boolean> {
    return ((await (await this.db()).query('DELETE FROM sandbox_deals WHERE id = $1', [id])).rowCount ?? 0) > 0
  }

  async searchCustomers(q: string): Promise<{ id: string; name: string; email: string }[]> {
    const r = await (await this.db()).query('SELECT id, name, email FROM sandbox_customers WHERE name ILIKE $1 ORDER BY name LIMIT 50', [`%${q}%`])
    return r.rows
  }

  async searchVehicles(make: string): Promise<{ vin: string; make: string; model: string; year: number; price: number }[]> {
    const r = await (
      await this.db()
    ).query<{ vin: string; make: string; model: string; year: number; price: string }>(
      "SELECT vin, make, model, year, price FROM sandbox_vehicles WHERE $1 = '' OR make = lower($1) ORDER BY vin LIMIT 50",
      [make],
    )
    return r.rows.map((v) => ({ ...v, price: Number(v.price) }))
  }

  async close(): Promise<void> {
    await this.pool?.end()
  }
}
