import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { signJwt, verifyJwt } from './jwt.js'
import { HttpMetrics } from './metrics.js'
import type { Behaviour } from './misbehaviour.js'
import type { Store } from './store.js'

/**
 * What one stand-in service answers: its health path (through the catalog), /metrics, and the
 * endpoints the plan's smoke checklist exercises (services/catalog.yaml `smoke:`). It plays the
 * service's contract, not its business logic.
 */
export interface StandinConfig {
  service: string
  healthPath: string
  /** Dependencies from the catalog: `postgresql` makes health fail when the database does. */
  dependsOn: string[]
  jwtSecret: string
  store: Store
  /** Faults of the image the cluster runs (tag `err20`, `slow500ms`); none when absent. */
  behaviour?: Behaviour
}

interface Request {
  method: string
  url: URL
  params: Record<string, string>
  body: Record<string, unknown>
  claims?: Record<string, unknown>
}

interface Reply {
  status: number
  body?: unknown
}

interface Route {
  method: string
  path: string
  auth?: boolean
  handle(req: Request): Promise<Reply>
}

// County overrides for the states the dealerships sell in; the CA/Los Angeles pair is the smoke test's.
const SALES_TAX: Record<string, { rate: number; counties?: Record<string, number> }> = {
  CA: { rate: 0.0725, counties: { 'los angeles': 0.095, 'san francisco': 0.08625 } },
  TX: { rate: 0.0625 },
  NY: { rate: 0.04, counties: { 'new york': 0.08875 } },
  FL: { rate: 0.06 },
}

const round2 = (n: number): number => Math.round(n * 100) / 100
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const bad = (message: string): Reply => ({ status: 400, body: { error: message } })

function serviceRoutes(c: StandinConfig): Route[] {
  const s = c.store
  switch (c.service) {
    case 'user-service':
      return [
        {
          method: 'POST',
          path: '/api/v1/users/register',
          async handle({ body }) {
            const email = str(body.email).toLowerCase()
            const password = str(body.password)
            if (!/^[^@\s]+@[^@\s]+$/.test(email) || password.length < 8) return bad('email and a password of 8+ characters are required')
            const user = await s.createUser(email, str(body.name) || email, password)
            return user ? { status: 201, body: user } : { status: 409, body: { error: 'email already registered' } }
          },
        },
        {
          method: 'DELETE',
          path: '/api/v1/users/:id',
          async handle({ params }) {
            return (await s.deleteUser(params.id!)) ? { status: 204 } : { status: 404, body: { error: 'no such user' } }
          },
        },
      ]
    case 'auth-service':
      return [
        {
          method: 'POST',
          path: '/api/v1/auth/login',
          async handle({ body }) {
            const user = await s.authenticate(str(body.email).toLowerCase(), str(body.password))
            if (!user) return { status: 401, body: { error: 'invalid email or password' } }
            return { status: 200, body: { token: signJwt({ sub: user.id, email: user.email }, c.jwtSecret), expiresIn: 3600 } }
          },
        },
      ]
    case 'deal-service':
      return [
        { method: 'GET', path: '/api/v1/deals', auth: true, handle: async () => ({ status: 200, body: { items: await s.listDeals() } }) },
        {
          method: 'POST',
          path: '/api/v1/deals/tax',
          auth: true,
          async handle({ body }) {
            const price = Number(body.price)
            const state = SALES_TAX[str(body.state).toUpperCase()]
            if (!(price > 0) || !state) return bad(`price > 0 and a state of ${Object.keys(SALES_TAX).join(', ')} are required`)
            const rate = state.counties?.[str(body.county).toLowerCase()] ?? state.rate
            const tax = round2(price * rate)
            return { status: 200, body: { price, rate, tax, total: round2(price + tax) } }
          },
        },
        {
          method: 'POST',
          path: '/api/v1/deals',
          auth: true,
          async handle({ body }) {
            const price = Number(body.price)
            if (!str(body.customerName) || !/^[A-HJ-NPR-Z0-9]{17}$/.test(str(body.vehicleVin)) || !(price > 0))
              return bad('customerName, a 17-character vehicleVin and price > 0 are required')
            return { status: 201, body: await s.createDeal(str(body.customerName), str(body.vehicleVin), price) }
          },
        },
        {
          method: 'DELETE',
          path: '/api/v1/deals/:id',
          auth: true,
          async handle({ params }) {
            return (await s.deleteDeal(params.id!)) ? { status: 204 } : { status: 404, body: { error: 'no such deal' } }
          },
        },
      ]
    case 'customer-service':
      return [
        {
          method: 'GET',
          path: '/api/v1/customers/search',
          auth: true,
          handle: async ({ url }) => ({ status: 200, body: { items: await s.searchCustomers(url.searchParams.get('q') ?? '') } }),
        },
      ]
    case 'inventory-service':
      return [
        {
          method: 'GET',
          path: '/api/v1/inventory/search',
          auth: true,
          handle: async ({ url }) => ({ status: 200, body: { items: await s.searchVehicles(url.searchParams.get('make') ?? '') } }),
        },
      ]
    case 'email-service':
      return [
        {
          method: 'POST',
          path: '/api/v1/email/send',
          auth: true,
          async handle({ body }) {
            const to = str(body.to)
            if (!/^[^@\s]+@[^@\s]+$/.test(to) || !str(body.subject)) return bad('to and subject are required')
            // Nothing leaves the machine: the sandbox's Resend key is not a real one.
            return { status: 202, body: { id: randomUUID(), status: 'queued', to } }
          },
        },
      ]
    default:
      return []
  }
}

/** '/api/v1/deals/:id' against '/api/v1/deals/42' -> { id: '42' }; undefined when it does not match. */
function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/')
  const b = path.replace(/\/+$/, '').split('/')
  if (a.length !== b.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.startsWith(':')) params[a[i]!.slice(1)] = decodeURIComponent(b[i]!)
    else if (a[i] !== b[i]) return undefined
  }
  return params
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  if (!chunks.length) return {}
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {}
}

export function createStandinHandler(c: StandinConfig): { handle(req: IncomingMessage, res: ServerResponse): void; metrics: HttpMetrics } {
  const metrics = new HttpMetrics(c.service)
  const routes = serviceRoutes(c)

  const health = async (): Promise<Reply> => {
    if (!c.dependsOn.includes('postgresql')) return { status: 200, body: { status: 'ok', service: c.service } }
    try {
      await c.store.ping()
      return { status: 200, body: { status: 'ok', service: c.service, checks: { postgresql: 'ok' } } }
    } catch (err) {
      return { status: 503, body: { status: 'unhealthy', service: c.service, checks: { postgresql: (err as Error).message } } }
    }
  }

  const dispatch = async (req: IncomingMessage, url: URL): Promise<{ route: string; reply: Reply }> => {
    const method = req.method ?? 'GET'
    if (url.pathname === c.healthPath && method === 'GET') return { route: c.healthPath, reply: await health() }
    for (const r of routes) {
      if (r.method !== method) continue
      const params = match(r.path, url.pathname)
      if (!params) continue
      let claims: Record<string, unknown> | undefined
      if (r.auth) {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
        claims = token ? verifyJwt(token, c.jwtSecret) : undefined
        if (!claims) return { route: r.path, reply: { status: 401, body: { error: 'a valid bearer token is required' } } }
      }
      let body: Record<string, unknown>
      try {
        body = await readJson(req)
      } catch {
        return { route: r.path, reply: bad('the body is not valid JSON') }
      }
      return { route: r.path, reply: await r.handle({ method, url, params, body, claims }) }
    }
    return { route: 'unmatched', reply: { status: 404, body: { error: `${c.service} has no ${method} ${url.pathname}` } } }
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = process.hrtime.bigint()
    const url = new URL(req.url ?? '/', 'http://standin')
    if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      res.end(metrics.render())
      return
    }
    const faulty = url.pathname !== c.healthPath && c.behaviour
    const delayMs = faulty ? c.behaviour!.now.delayMs : 0
    const delayed = delayMs ? new Promise((r) => setTimeout(r, delayMs)) : Promise.resolve()
    delayed
      .then(() => dispatch(req, url))
      .then(({ route, reply }) =>
        faulty && c.behaviour!.nextFails()
          ? { route, reply: { status: 500, body: { error: `${c.service}: injected failure (image tag)` } } }
          : { route, reply },
      )
      .catch((err: unknown): { route: string; reply: Reply } => ({ route: 'error', reply: { status: 500, body: { error: (err as Error).message } } }))
      .then(({ route, reply }) => {
        metrics.observe(req.method ?? 'GET', route, reply.status, Number(process.hrtime.bigint() - t0) / 1e9)
        if (reply.body === undefined) res.writeHead(reply.status).end()
        else res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body))
      })
  }
  return { handle, metrics }
}
