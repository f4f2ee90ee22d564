/**
 * #16 item 1: verify.all right after a deploy tells "still converging" from "broken" instead of
 * failing phase 8 (and, with --auto-rollback, rolling back) on the first look.
 */
import { describe, expect, it } from 'vitest'
import { untilSettled, type Failing } from '../../src/engine/verify-retry.js'

/** The verify results of successive attempts, as the loop sees them. */
function script(...attempts: Failing[][]): { once: () => Promise<Failing[]>; calls: () => number } {
  let i = 0
  return { once: async () => attempts[Math.min(i++, attempts.length - 1)]!, calls: () => i }
}
const opts = { attempts: 4, intervalMs: 1, failing: (r: Failing[]) => r }
const f = (id: string, text: string): Failing => ({ id, text })

describe('untilSettled', () => {
  it('passes as soon as nothing fails: a platform still starting is given time', async () => {
    const s = script(
      [f('k8s.deployments', 'deal-service: 1/3 available'), f('monitoring.targets', 'not scraped yet')],
      [f('k8s.deployments', 'deal-service: 2/3 available')],
      [],
    )
    const r = await untilSettled(s.once, opts)
    expect(r).toMatchObject({ verdict: 'pass', attempts: 3 })
  })

  it('stops at the second identical look: broken, not converging (timings do not count as change)', async () => {
    const s = script(
      [f('database.select', 'PostgreSQL rejected the credentials (28P01) in 12 ms')],
      [f('database.select', 'PostgreSQL rejected the credentials (28P01) in 9 ms')],
    )
    const r = await untilSettled(s.once, opts)
    expect(r).toMatchObject({ verdict: 'broken', attempts: 2 })
    expect(s.calls()).toBe(2)
  })

  it('still changing when the attempts run out: converging', async () => {
    const s = script(
      [f('k8s.deployments', 'a: 0/3 available')],
      [f('k8s.deployments', 'a: 1/3 available')],
      [f('k8s.deployments', 'a: 2/3 available')],
      [f('k8s.pods', 'a-1: Pending (starting, 5 s)')],
    )
    const r = await untilSettled(s.once, opts)
    expect(r).toMatchObject({ verdict: 'converging', attempts: 4, failing: [f('k8s.pods', 'a-1: Pending (starting, 5 s)')] })
  })

  it('one attempt only: a failure is broken', async () => {
    const s = script([f('redis.ping', 'WRONGPASS')])
    expect(await untilSettled(s.once, { ...opts, attempts: 1 })).toMatchObject({ verdict: 'broken', attempts: 1 })
  })

  it('Ctrl-C stops the wait between attempts', async () => {
    const ctrl = new AbortController()
    const s = script([f('a', 'x')], [f('b', 'y')])
    const p = untilSettled(s.once, { ...opts, intervalMs: 60_000, signal: ctrl.signal })
    setTimeout(() => ctrl.abort(new Error('interrupted')), 20)
    await expect(p).rejects.toThrow('interrupted')
  })
})
