import { z } from 'zod'
import { runChecks } from '../../checks/run.js'
import { TOOLS, toolChecks } from '../../checks/tools.js'
import { UserError } from '../../engine/errors.js'
import type { Step } from '../../engine/types.js'

const params = z.object({ tools: z.array(z.enum(Object.keys(TOOLS) as [string, ...string[]])).default(Object.keys(TOOLS)) }).strict()

/** Plan 1.2: the tools every later phase shells out to, with minimum versions. Read-only. */
export const preflightTools: Step<z.infer<typeof params>> = {
  id: 'preflight.tools',
  title: 'Required tools and versions',
  description: 'Plan 1.2: terraform >= 1.5 (or tofu), kubectl, helm, git are present and recent; docker and gh reported as optional.',
  danger: 'read',
  params,
  async plan(_ctx, p) {
    return p.tools.map((t) => `${TOOLS[t]!.bins.join('|')} ${TOOLS[t]!.args.join(' ')}`)
  },
  async check(ctx, p) {
    const results = await runChecks(ctx, toolChecks(p.tools))
    const failed = results.filter((r) => r.status === 'fail')
    for (const r of results.filter((x) => x.status === 'warn')) ctx.warn(`${r.id}: ${r.detail}`)
    if (failed.length) return { status: 'todo', detail: failed.map((r) => r.detail).join('; ') }
    return {
      status: 'done',
      detail: results
        .filter((r) => r.status === 'pass')
        .map((r) => r.detail.split(' at ')[0])
        .join(', '),
    }
  },
  async run(ctx, p) {
    const failed = (await runChecks(ctx, toolChecks(p.tools))).filter((r) => r.status === 'fail')
    if (failed.length)
      throw new UserError(
        `missing or outdated tools: ${failed.map((r) => `${r.id.slice(5)} (${r.detail})`).join('; ')}`,
        'install them (README "Requirements"), then re-run',
      )
  },
}
