import { z } from 'zod'
import { StepFailedError, errorMessage } from '../../engine/errors.js'
import { registerSecret } from '../../engine/redact.js'
import type { Context, Step } from '../../engine/types.js'

const params = z
  .object({
    /** Full URL; default: the environment's API URL + path. */
    url: z.string().url().optional(),
    path: z.string().startsWith('/').default('/health'),
    expectStatus: z.number().int().default(200),
    timeoutSeconds: z.number().positive().max(3600).default(300),
    intervalMs: z.number().int().min(100).max(60_000).default(2000),
    /** Name of an environment variable holding a bearer token (never the token itself). */
    tokenEnv: z.string().optional(),
  })
  .strict()
type Params = z.infer<typeof params>

function target(ctx: Context, p: Params): string {
  return p.url ?? new URL(p.path, ctx.env.apiUrl ?? `https://${ctx.env.apiDomain}`).toString()
}

async function probe(ctx: Context, p: Params, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  const token = p.tokenEnv ? process.env[p.tokenEnv] : undefined
  registerSecret(token)
  try {
    const r = await ctx.clients.http.request({ url: target(ctx, p), timeoutMs: 5000, signal, headers: token ? { authorization: `Bearer ${token}` } : {} })
    return { ok: r.status === p.expectStatus, detail: `HTTP ${r.status} in ${r.ms} ms` }
  } catch (err) {
    return { ok: false, detail: errorMessage(err) }
  }
}

/**
 * Waits until an endpoint answers as expected (e.g. the API after DNS and TLS are in place).
 * Read-only against the system; it only waits, so a crash mid-wait simply waits again.
 */
export const httpWaitHealthy: Step<Params> = {
  id: 'http.wait-healthy',
  title: 'Endpoint answers healthy',
  description: 'Waits, with a deadline and progress, until a URL (default: the API health endpoint) returns the expected status.',
  danger: 'read',
  params,
  async plan(ctx, p) {
    return [`GET ${target(ctx, p)} every ${p.intervalMs} ms until HTTP ${p.expectStatus} (at most ${p.timeoutSeconds} s)`]
  },
  async check(ctx, p) {
    const r = await probe(ctx, p, ctx.signal)
    return r.ok ? { status: 'done', detail: r.detail } : { status: 'todo', detail: r.detail }
  },
  async run(ctx, p) {
    const deadline = Date.now() + p.timeoutSeconds * 1000
    let last = ''
    for (let attempt = 1; ; attempt++) {
      const r = await probe(ctx, p, ctx.signal)
      if (r.ok) return { url: target(ctx, p), detail: r.detail }
      last = r.detail
      ctx.log(`waiting for ${target(ctx, p)}: ${r.detail} (attempt ${attempt}, ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left)`)
      if (Date.now() + p.intervalMs > deadline) break
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, p.intervalMs)
        ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true })
      })
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('aborted')
    }
    throw new StepFailedError(
      `${target(ctx, p)} did not answer HTTP ${p.expectStatus} within ${p.timeoutSeconds} s (last: ${last})`,
      `check the service (\`autolytiq verify --env ${ctx.envName}\`), then re-run`,
    )
  },
}
