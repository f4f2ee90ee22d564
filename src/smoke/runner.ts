import { randomBytes } from 'node:crypto'
import type { SmokeCheck } from '../config/catalog.js'
import { describeRequestError } from '../checks/http.js'
import { registerSecret } from '../engine/redact.js'
import type { Context } from '../engine/types.js'
import { mismatches } from './match.js'
import { MissingVariable, substitute, variablesIn, type Vars } from './template.js'

/** A request that removes what a flow created; persisted until done so a crash cannot orphan it. */
export interface PendingCleanup {
  flow: string
  method: 'DELETE' | 'POST'
  /** Substituted path; ids only, never a secret. */
  path: string
}

export interface FlowResult {
  id: string
  title: string
  service: string
  request: string
  status: 'pass' | 'fail' | 'skip'
  detail: string
  ms: number
}

export interface CleanupResult extends PendingCleanup {
  ok: boolean
  detail: string
}

export interface SmokeResult {
  result: 'pass' | 'fail'
  flows: FlowResult[]
  cleanup: CleanupResult[]
}

export interface SmokeOptions {
  baseUrl: string
  flows: SmokeCheck[]
  timeoutMs: number
  /** Called when a flow created something (before the next request) and when it is removed. */
  onCreated?: (c: PendingCleanup) => Promise<void>
  onCleaned?: (c: PendingCleanup) => Promise<void>
  /** Cleanups left by an interrupted earlier run, retried after this run's own. */
  leftovers?: PendingCleanup[]
}

/** Per-run identity: a non-production address and a random password nobody will reuse. */
export function smokeIdentity(runId: string): Vars {
  const password = `Smk-${randomBytes(18).toString('base64url')}`
  registerSecret(password)
  // The run id traces the account to the run; the random part keeps a retry from colliding with a leftover.
  const local = `smoke-${runId.toLowerCase().replace(/[^a-z0-9]/g, '')}-${randomBytes(3).toString('hex')}`
  return { smokeEmail: `${local}@example.test`, smokePassword: password }
}

/** Addresses mail can never be delivered to (RFC 2606 / 6761): the only ones smoke tests may mail. */
export function isNonProductionAddress(address: string): boolean {
  const domain = address.split('@')[1]?.toLowerCase() ?? ''
  return /(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$/.test(domain)
}

function json(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function headersFor(vars: Vars, auth: boolean): Record<string, string> {
  return { accept: 'application/json', ...(auth ? { authorization: `Bearer ${vars.token}` } : {}) }
}

/** Plan 8.5's smoke checklist, run over HTTP in catalog order with real assertions, then cleaned up. */
export async function runSmoke(ctx: Context, opts: SmokeOptions, vars: Vars = smokeIdentity(ctx.runId)): Promise<SmokeResult> {
  const cleanup: CleanupResult[] = []
  const doCleanup = async (c: PendingCleanup): Promise<void> => {
    const url = `${opts.baseUrl}${c.path}`
    try {
      const res = await ctx.clients.http.request({
        url,
        method: c.method,
        headers: headersFor(vars, 'token' in vars),
        timeoutMs: opts.timeoutMs,
        signal: ctx.signal,
      })
      // Already gone counts as cleaned: a repeated cleanup after a crash must not fail.
      const ok = (res.status >= 200 && res.status < 300) || res.status === 404
      cleanup.push({ ...c, ok, detail: `HTTP ${res.status}` })
      if (ok) await opts.onCleaned?.(c)
    } catch (err) {
      cleanup.push({ ...c, ok: false, detail: describeRequestError(err, url, opts.timeoutMs) })
    }
  }

  const created: PendingCleanup[] = []
  const flows: FlowResult[] = []
  try {
    for (const flow of opts.flows) {
      const r = await runFlow(ctx, flow, opts, vars)
      flows.push(r.result)
      if (r.created) {
        created.push(r.created)
        await opts.onCreated?.(r.created)
      }
    }
  } finally {
    // Newest first: a deal is removed before the user who owns it. Leftovers of an interrupted
    // run go last, when this run's login has produced a token to delete them with.
    for (const c of [...created.reverse(), ...(opts.leftovers ?? [])]) await doCleanup(c)
  }
  const failed = flows.some((f) => f.status !== 'pass') || cleanup.some((c) => !c.ok)
  return { result: failed ? 'fail' : 'pass', flows, cleanup }
}

async function runFlow(ctx: Context, flow: SmokeCheck, opts: SmokeOptions, vars: Vars): Promise<{ result: FlowResult; created?: PendingCleanup }> {
  const base = { id: flow.id, title: flow.title, service: flow.service, request: `${flow.method} ${flow.path}` }
  const t0 = performance.now()
  const ms = (): number => Math.round(performance.now() - t0)
  let path: string
  let body: Record<string, unknown> | undefined
  try {
    if (flow.auth && !('token' in vars)) throw new MissingVariable('token')
    path = substitute(flow.path, vars, encodeURIComponent)
    body = flow.body ? substitute(flow.body, vars) : undefined
  } catch (err) {
    if (!(err instanceof MissingVariable)) throw err
    return {
      result: { ...base, status: 'skip', detail: `needs ${err.message.replace(' is not set', '')} saved by an earlier flow, which did not pass`, ms: 0 },
    }
  }
  const to = body?.to
  if (typeof to === 'string' && !isNonProductionAddress(to))
    return { result: { ...base, status: 'fail', detail: `refusing to send email to ${to}: smoke tests mail only reserved test domains (example.test)`, ms: 0 } }

  const url = `${opts.baseUrl}${path}`
  let res
  try {
    res = await ctx.clients.http.request({
      url,
      method: flow.method,
      headers: headersFor(vars, flow.auth),
      body,
      timeoutMs: opts.timeoutMs,
      signal: ctx.signal,
    })
  } catch (err) {
    return { result: { ...base, status: 'fail', detail: describeRequestError(err, url, opts.timeoutMs), ms: ms() } }
  }
  const parsed = json(res.body)
  const snippet = res.body.replace(/\s+/g, ' ').slice(0, 120)
  // The resource exists as soon as the server said 2xx: clean it up even if assertions fail.
  let created: PendingCleanup | undefined
  const saved: Vars = {}
  for (const [name, field] of Object.entries(flow.save ?? {})) {
    const v = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>)[field] : undefined
    if (typeof v === 'string' || typeof v === 'number') saved[name] = v
  }
  if (res.status >= 200 && res.status < 300 && flow.cleanup) {
    try {
      created = { flow: flow.id, method: flow.cleanup.method, path: substitute(flow.cleanup.path, { ...vars, ...saved }, encodeURIComponent) }
    } catch {
      // The id to delete was not returned; the mismatch below reports why.
    }
  }
  if (res.status !== flow.expectStatus)
    return { result: { ...base, status: 'fail', detail: `expected HTTP ${flow.expectStatus}, got ${res.status}: ${snippet}`, ms: ms() }, created }
  if (flow.expect) {
    if (parsed === undefined) return { result: { ...base, status: 'fail', detail: `response is not JSON: ${snippet}`, ms: ms() }, created }
    const problems = mismatches(substitute(flow.expect, vars), parsed)
    if (problems.length) return { result: { ...base, status: 'fail', detail: problems.join('; '), ms: ms() }, created }
  }
  const missing = Object.entries(flow.save ?? {}).filter(([name]) => !(name in saved))
  if (missing.length)
    return { result: { ...base, status: 'fail', detail: `response has no ${missing.map(([, f]) => f).join(', ')} to save`, ms: ms() }, created }
  for (const [name, v] of Object.entries(saved)) {
    if (name === 'token') registerSecret(String(v))
    vars[name] = v
  }
  return { result: { ...base, status: 'pass', detail: `HTTP ${res.status} in ${ms()} ms`, ms: ms() }, created }
}

/** The requests a smoke run would make, for --dry-run. */
export function smokePlan(baseUrl: string, flows: SmokeCheck[]): string[] {
  return flows.flatMap((f) => [
    `${f.method} ${baseUrl}${f.path}${f.auth ? ' (Bearer ${token})' : ''} → expect ${f.expectStatus}${f.expect ? ` and ${Object.keys(f.expect).join(', ')}` : ''}`,
    ...(f.cleanup ? [`  cleanup: ${f.cleanup.method} ${baseUrl}${f.cleanup.path}`] : []),
    ...variablesIn([f.path, f.body])
      .filter((v) => !['smokeEmail', 'smokePassword'].includes(v))
      .map((v) => `  uses \${${v}} from an earlier flow`),
  ])
}
