import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { Context } from '../../src/engine/types.js'
import { pollUntil } from '../../src/steps/aws/util.js'

const ctx = (lines: string[]): Context => ({ log: (m: string) => lines.push(m), signal: new AbortController().signal }) as unknown as Context

describe('pollUntil', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('probes after 1 s, then doubles the pause up to intervalMs: a quick result is seen in seconds', async () => {
    const probedAt: number[] = []
    const t0 = Date.now()
    const done = pollUntil(ctx([]), {
      what: 'certificate ISSUED',
      timeoutMs: 600_000,
      intervalMs: 15_000,
      next: 'run it again',
      probe: async () => {
        probedAt.push(Date.now() - t0)
        return probedAt.length === 7 ? { done: true, value: 'ISSUED', progress: '' } : { done: false, progress: 'PENDING_VALIDATION' }
      },
    })
    await vi.runAllTimersAsync()
    expect(await done).toBe('ISSUED')
    // pauses 1, 2, 4, 8, then capped at 15 s
    expect(probedAt).toEqual([0, 1_000, 3_000, 7_000, 15_000, 30_000, 45_000])
  })

  test('the deadline still ends the wait with what it last saw and how to resume', async () => {
    const lines: string[] = []
    const done = pollUntil(ctx(lines), {
      what: 'table ACTIVE',
      timeoutMs: 5_000,
      intervalMs: 10_000,
      next: 'run it again',
      probe: async () => ({ done: false, progress: 'CREATING' }),
    })
    const settled = done.catch((e: Error) => e)
    await vi.runAllTimersAsync()
    const err = (await settled) as Error & { next?: string }
    expect(err.message).toBe('still waiting for table ACTIVE after 5 s (CREATING)')
    expect(lines[0]).toBe('waiting for table ACTIVE: CREATING (0 s of 5 s)')
  })
})
