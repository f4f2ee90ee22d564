import { z } from 'zod'
import { provedOnNow, staleBecause } from './proved-on.js'
import { apiBaseUrl } from '../../checks/http.js'
import type { SmokeCheck } from '../../config/catalog.js'
import { StepFailedError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { runSmoke, smokePlan, type PendingCleanup } from '../../smoke/runner.js'

const params = z
  .object({
    /** Only these flow ids (default: every catalog flow, in catalog order). */
    flows: z.array(z.string()).optional(),
    timeoutMs: z.number().int().min(100).default(10_000),
    /** Run again even when this release already passed. */
    always: z.boolean().default(false),
  })
  .strict()
type Params = z.infer<typeof params>

const ID = 'smoke.tests'

function selectFlows(ctx: Context, p: Params): SmokeCheck[] {
  if (!p.flows) return ctx.catalog.smoke
  const known = ctx.catalog.smoke.map((f) => f.id)
  const unknown = p.flows.filter((f) => !known.includes(f))
  if (unknown.length) throw new UserError(`unknown smoke flow(s): ${unknown.join(', ')}`, `flows in services/catalog.yaml: ${known.join(', ')}`)
  return ctx.catalog.smoke.filter((f) => p.flows!.includes(f.id))
}

function pending(ctx: Context): PendingCleanup[] {
  return (ctx.state.outputs(ID)?.pendingCleanup as PendingCleanup[] | undefined) ?? []
}

async function savePending(ctx: Context, list: PendingCleanup[]): Promise<void> {
  ctx.state.setOutputs(ID, { pendingCleanup: list })
  await ctx.state.save()
}

/**
 * Plan 8.5: the smoke checklist as real HTTP flows from the catalog. Whatever a run creates is
 * recorded in state before the next request and removed at the end, so even a crash between
 * "user created" and "user deleted" is cleaned up by the next run.
 */
export const smokeTests: Step<Params> = {
  id: ID,
  title: 'Smoke tests through the API',
  description:
    'Plan 8.5: user registration, login (valid JWT), deal listing and creation, tax calculation, customer and inventory search, email to a test address — then deletes what it created.',
  danger: 'mutating',
  params,
  timeoutMs: 10 * 60_000,
  retries: 0,
  async plan(ctx, p) {
    const leftovers = pending(ctx).map((c) => `${c.method} ${apiBaseUrl(ctx.env)}${c.path} (cleanup left by an interrupted run)`)
    return [...leftovers, ...smokePlan(apiBaseUrl(ctx.env), selectFlows(ctx, p))]
  },
  async check(ctx, p) {
    const out = ctx.state.outputs(ID)
    if (pending(ctx).length) return { status: 'drift', detail: `${pending(ctx).length} smoke resource(s) from an interrupted run still to delete` }
    const stale = out?.result === 'pass' ? staleBecause(out.provedOn, await provedOnNow(ctx)) : undefined
    if (!p.always && out?.release === ctx.env.release && out.result === 'pass' && !stale)
      return { status: 'done', detail: `passed for ${ctx.env.release} at ${String(out.at)}` }
    if (out?.release === ctx.env.release && out.result === 'pass') return { status: 'todo', detail: `the last pass no longer counts: ${stale}` }
    return { status: 'todo', detail: out?.release === ctx.env.release ? 'last run failed' : `not run for ${ctx.env.release}` }
  },
  async run(ctx, p) {
    const flows = selectFlows(ctx, p)
    let open = pending(ctx)
    const r = await runSmoke(ctx, {
      baseUrl: apiBaseUrl(ctx.env),
      flows,
      timeoutMs: p.timeoutMs,
      leftovers: open,
      onCreated: async (c) => savePending(ctx, (open = [...open, c])),
      onCleaned: async (c) => savePending(ctx, (open = open.filter((x) => x.path !== c.path || x.method !== c.method))),
    })
    for (const f of r.flows) ctx.log(`${f.status.toUpperCase()} ${f.id}: ${f.detail}`)
    const summary = {
      release: ctx.env.release,
      at: new Date().toISOString(),
      result: r.result,
      flows: r.flows.map((f) => ({ id: f.id, status: f.status, ms: f.ms, detail: f.detail })),
      pendingCleanup: open,
      provedOn: await provedOnNow(ctx),
    }
    ctx.state.setOutputs(ID, summary)
    await ctx.state.save()
    const failed = r.flows.filter((f) => f.status !== 'pass')
    const dirty = r.cleanup.filter((c) => !c.ok)
    if (failed.length || dirty.length)
      throw new StepFailedError(
        [
          ...failed.map((f) => `${f.id} ${f.status === 'skip' ? 'skipped' : 'failed'}: ${f.detail}`),
          ...dirty.map((c) => `cleanup ${c.method} ${c.path} failed: ${c.detail} (retried on the next run)`),
        ].join('; '),
        `fix the failing service, then re-run \`autolytiq deploy --env ${ctx.envName} --only ${ID}\``,
      )
    return summary
  },
}
