import { describe, expect, it } from 'vitest'
import { DEFAULT_TRAFFIC_THRESHOLDS, judgeTraffic, type TrafficData } from '../../src/checks/traffic.js'
import { misbehaviourOf, Behaviour } from '../../src/sandbox/standin/misbehaviour.js'
import { parseDuration } from '../../src/config/duration.js'
import { orderForReading } from '../../src/engine/verify.js'
import { sparkline } from '../../src/render/sparkline.js'
import { UserError } from '../../src/engine/errors.js'
import type { CheckReport } from '../../src/checks/run.js'

const base = (over: Partial<TrafficData>): TrafficData => ({
  service: 'deal-service',
  windowSeconds: 300,
  scraped: true,
  thresholds: DEFAULT_TRAFFIC_THRESHOLDS,
  baseline: { source: 'go-live baseline', errorRatio: 0.001, p95: 0.02, p99: 0.05 },
  ...over,
})

describe('traffic verdicts (alert-rule thresholds, 2x baseline warnings)', () => {
  it('fails above 5 % 5xx and names the ratio against the baseline', () => {
    const v = judgeTraffic(base({ now: { rate: 10, errorRatio: 0.2, p95: 0.02, p99: 0.04 } }))
    expect(v.status).toBe('fail')
    expect(v.detail).toBe('5xx 20% above 5.0% — 10 req/s over 5m, 5xx 20% (go-live baseline: 0.1%), p95 20 ms, p99 40 ms (go-live baseline: 50 ms)')
  })
  it('fails above p99 1 s, warns at 2x the baseline p99 (not under the 100 ms floor)', () => {
    expect(judgeTraffic(base({ now: { rate: 10, errorRatio: 0, p99: 1.2 } })).detail).toMatch(/^p99 1200 ms above 1000 ms/)
    expect(judgeTraffic(base({ now: { rate: 10, errorRatio: 0, p99: 0.3 } }))).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/^p99 300 ms is over 2× go-live baseline \(50 ms\)/),
    })
    expect(judgeTraffic(base({ baseline: { source: 'b', errorRatio: 0, p99: 0.01 }, now: { rate: 10, errorRatio: 0, p99: 0.05 } })).status).toBe('pass')
  })
  it('warns at 2x the baseline error ratio above the 1 % floor, and on traffic under half of a day earlier', () => {
    expect(judgeTraffic(base({ now: { rate: 10, errorRatio: 0.03, p99: 0.04 } })).status).toBe('warn')
    expect(judgeTraffic(base({ now: { rate: 10, errorRatio: 0.005, p99: 0.04 } })).status).toBe('pass')
    const drop = judgeTraffic(base({ now: { rate: 2, errorRatio: 0, p99: 0.04 }, dayBefore: { rate: 10, errorRatio: 0, p99: 0.04 } }))
    expect(drop).toMatchObject({ status: 'warn', detail: expect.stringContaining('traffic 2.00 req/s is under 1/2 of a day earlier (10 req/s)') })
  })
  it('no traffic, no metrics and no baseline are warnings that say so', () => {
    expect(judgeTraffic(base({ now: { rate: 0 } })).detail).toBe('no requests in the last 5m: nothing to judge (idle, or traffic is not reaching deal-service)')
    expect(judgeTraffic(base({ scraped: false })).detail).toMatch(/^no metrics for deal-service: Prometheus has no target with job="deal-service"/)
    expect(judgeTraffic(base({ baseline: undefined, now: { rate: 1, errorRatio: 0, p99: 0.01 } }))).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/^no baseline to compare with/),
    })
  })
})

describe('stand-in misbehaviour tags', () => {
  it('reads err<N> and slow<N>ms from the image tag only', () => {
    expect(misbehaviourOf('123.dkr.ecr/autolytiq/deal-service:v1.0.1-err20')).toEqual({ errorShare: 0.2, delayMs: 0 })
    expect(misbehaviourOf('autolytiq/auth-service:v2-slow500ms')).toEqual({ errorShare: 0, delayMs: 500 })
    expect(misbehaviourOf('registry:5000/autolytiq/err20-service:v1')).toEqual({ errorShare: 0, delayMs: 0 })
  })
  it('fails exactly the share asked for, evenly', () => {
    const b = new Behaviour()
    b.setImage('x:v1-err20')
    const fails = Array.from({ length: 100 }, () => b.nextFails())
    expect(fails.filter(Boolean)).toHaveLength(20)
    expect(fails.slice(0, 5)).toEqual([false, false, false, false, true])
  })
})

describe('verify presentation', () => {
  it('failing layers come first; the others keep their order', () => {
    const c = (id: string, layer: string, status: 'pass' | 'warn' | 'fail'): CheckReport => ({ id, layer, status, title: id, detail: '', ms: 1 })
    const ordered = orderForReading([c('a', 'services', 'pass'), c('b', 'edge', 'warn'), c('c', 'kubernetes', 'pass'), c('d', 'kubernetes', 'fail')])
    expect(ordered.map((x) => x.id)).toEqual(['d', 'c', 'a', 'b'])
  })
  it('sparklines scale to their maximum or a ceiling; gaps stay blank', () => {
    expect(sparkline([0, 1, 2, 4, null, 8])).toBe('▁▂▃▅ █')
    expect(sparkline([0, 0.001, 0], 0.05)).toBe('▁▁▁')
  })
  it('durations take units and refuse nonsense with the fix', () => {
    expect(parseDuration('5m', '--window')).toBe(300)
    expect(parseDuration('24h', '--since')).toBe(86_400)
    expect(parseDuration('90', '--window')).toBe(90)
    expect(() => parseDuration('soon', '--since')).toThrow(UserError)
  })
})
