/** One failing check as the retry loop compares it. */
export interface Failing {
  id: string
  text: string
}

export type Settled<R> =
  | { verdict: 'pass'; result: R; attempts: number }
  /** Failing the same way on two attempts in a row: nothing is moving, waiting longer will not help. */
  | { verdict: 'broken'; result: R; attempts: number; failing: Failing[] }
  /** Still changing (fewer failures, or different ones) when the attempts ran out. */
  | { verdict: 'converging'; result: R; attempts: number; failing: Failing[] }

/** Durations and timings change between attempts without anything having changed. */
const stable = (text: string): string => text.replace(/\d+(\.\d+)?\s*(ms|s|min|seconds?|minutes?)\b/g, '#')

/**
 * Runs `once` up to `attempts` times, `intervalMs` apart, and tells a platform that is still
 * converging (pods becoming ready, targets being scraped for the first time) from one that is
 * broken: the same checks failing with the same reasons twice in a row stop the loop at once.
 * Nothing to watch here (the checks span AWS, DNS, HTTP, databases), so it waits between attempts.
 */
export async function untilSettled<R>(
  once: () => Promise<R>,
  o: { attempts: number; intervalMs: number; failing(r: R): Failing[]; signal?: AbortSignal; log?(m: string): void },
): Promise<Settled<R>> {
  let previous: string | undefined
  for (let attempt = 1; ; attempt++) {
    const result = await once()
    const failing = o.failing(result)
    if (!failing.length) return { verdict: 'pass', result, attempts: attempt }
    const key = failing
      .map((f) => `${f.id}\n${stable(f.text)}`)
      .sort()
      .join('\n\n')
    if (key === previous) return { verdict: 'broken', result, attempts: attempt, failing }
    if (attempt >= o.attempts) return { verdict: previous === undefined ? 'broken' : 'converging', result, attempts: attempt, failing }
    previous = key
    o.log?.(
      `attempt ${attempt}/${o.attempts}: ${failing.length} check(s) failing (${failing.map((f) => f.id).join(', ')}); looking again in ${Math.round(o.intervalMs / 1000)} s`,
    )
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, o.intervalMs)
      o.signal?.addEventListener('abort', () => (clearTimeout(t), reject(o.signal!.reason)), { once: true })
    })
  }
}
