import { userInfo } from 'node:os'
import { runChecks, worst, type CheckReport } from '../checks/run.js'
import { explainFailingPods, type PodEvidence } from '../checks/pod-evidence.js'
import { preloadClients, selectForVerify, verifyChecks, VERIFY_DEFAULTS, type VerifyCheckOptions } from '../checks/verify.js'
import { latestRollouts, whatChanged, type WhatChanged } from '../changes/what-changed.js'
import { buildContext } from './context.js'
import { errorMessage, UserError } from './errors.js'
import { nextStepFor } from './next-steps.js'
import { redact } from './redact.js'
import type { Context } from './types.js'

export interface VerifyResult {
  environment: string
  release: string
  by: string
  startedAt: string
  /** Loading client libraries before the clocks start (seconds on a busy machine, cold). */
  startupMs: number
  /** The checks themselves, all concurrent: close to the slowest one. */
  durationMs: number
  deadlineMs: number
  /** `--service` as given: empty means no filter (the whole platform was checked). */
  serviceFilter: string[]
  /** The catalog services whose own checks ran (the filter plus the gateway in front of them). */
  servicesChecked: string[]
  result: 'pass' | 'warn' | 'fail'
  /** Failing layers first, failures first within a layer; every failure has `next`. */
  checks: CheckReport[]
  /** Every FAIL's next command, in check order (the same as each failing check's `next`). */
  nextSteps: { check: string; command: string }[]
  /** The traffic window, seconds (`--window`). */
  trafficWindowSeconds?: number
  /** Changes in the `--since` window, newest first, from every layer. */
  changes?: WhatChanged
  /** Pods in an error state: last termination, last log lines, Warning events. */
  failingPods?: PodEvidence[]
  /** Why pod evidence could not be gathered, when it could not. */
  failingPodsError?: string
  /** Where the command wrote the Markdown report (--report), when it did. */
  reportFile?: string
}

export const DEFAULT_DEADLINE_MS = 30_000
/** `--since` default: the last day of changes. */
export const DEFAULT_SINCE_SECONDS = 24 * 3600

export interface RunVerifyOptions extends VerifyCheckOptions {
  deadlineMs?: number
  /** Also answer "what changed?" over this many seconds (the verify command; not the go-live step). */
  changesSinceSeconds?: number
  /** Also explain failing pods (logs, exit codes, events). */
  explainPods?: boolean
}

const RANK = { fail: 0, warn: 1, pass: 2 } as const

/** Failing layers first (the README promises it), the others in their usual order; failures first within a layer. */
export function orderForReading(checks: CheckReport[]): CheckReport[] {
  const layers = [...new Set(checks.map((c) => c.layer))]
  const failing = (l: string): boolean => checks.some((c) => c.layer === l && c.status === 'fail')
  const layerRank = new Map(layers.map((l, i) => [l, (failing(l) ? 0 : 1000) + i]))
  return [...checks].sort((a, b) => layerRank.get(a.layer)! - layerRank.get(b.layer)! || RANK[a.status] - RANK[b.status])
}

/** All verify checks at once: each under its own timeout, all under one deadline (the wall time is the slowest check). */
export async function runVerify(ctx: Context, opts: RunVerifyOptions = {}): Promise<VerifyResult> {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
  // A per-check limit beyond the deadline would only be cut short by it; keep messages truthful.
  const cap = (ms: number): number => Math.min(ms, deadlineMs)
  const probeTimeoutMs = cap(opts.probeTimeoutMs ?? VERIFY_DEFAULTS.probeTimeoutMs)
  const checks = verifyChecks(ctx, {
    ...opts,
    healthTimeoutMs: cap(opts.healthTimeoutMs ?? VERIFY_DEFAULTS.healthTimeoutMs),
    probeTimeoutMs,
  })
  const selection = selectForVerify(ctx, opts.services)
  const startedAt = new Date().toISOString()
  const s0 = performance.now()
  await Promise.all([
    preloadClients(ctx, opts.explainPods || opts.changesSinceSeconds ? [...checks, { layer: 'kubernetes' } as never] : checks),
    // "What changed" reads S3 and Secrets Manager: load those SDKs before the clock starts too (seconds of CPU, cold).
    opts.changesSinceSeconds
      ? Promise.allSettled([
          import('@aws-sdk/client-s3').then(() => ctx.clients.aws.s3()),
          import('@aws-sdk/client-secrets-manager').then(() => ctx.clients.aws.secrets()),
        ])
      : undefined,
  ])
  const t0 = performance.now()
  // The extra questions run beside the checks, under the same limits, so they add no wall time.
  const since = Date.now() - (opts.changesSinceSeconds ?? DEFAULT_SINCE_SECONDS) * 1000
  const [reports, changes, pods] = await Promise.all([
    runChecks(ctx, checks, { deadlineMs }),
    opts.changesSinceSeconds ? whatChanged(ctx, { sinceSeconds: opts.changesSinceSeconds, timeoutMs: probeTimeoutMs }) : undefined,
    opts.explainPods
      ? withLimit(explainFailingPods(ctx, selection.narrowed ? selection.services : undefined, since), probeTimeoutMs).then(
          (v) => ({ pods: v }),
          (err: unknown) => ({ error: redact(errorMessage(err)) }),
        )
      : undefined,
  ])
  const rollouts = changes ? latestRollouts(changes) : new Map()
  for (const r of reports) if (r.status === 'fail' && !r.next) r.next = redact(nextStepFor(ctx, r, rollouts))
  const ordered = orderForReading(reports)
  return {
    environment: ctx.envName,
    release: ctx.env.release,
    by: userInfo().username,
    startedAt,
    startupMs: Math.round(t0 - s0),
    durationMs: Math.round(performance.now() - t0),
    deadlineMs,
    serviceFilter: opts.services ?? [],
    servicesChecked: selection.services.filter((s) => s.kind === 'Deployment').map((s) => s.name),
    result: worst(reports),
    checks: ordered,
    nextSteps: ordered.filter((c) => c.status === 'fail').map((c) => ({ check: c.id, command: c.next! })),
    ...(opts.traffic ? { trafficWindowSeconds: opts.trafficWindowSeconds ?? VERIFY_DEFAULTS.trafficWindowSeconds } : {}),
    ...(changes ? { changes } : {}),
    ...(pods && 'pods' in pods ? { failingPods: pods.pods } : {}),
    ...(pods && 'error' in pods ? { failingPodsError: pods.error } : {}),
  }
}

function withLimit<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))
  return Promise.race([p, limit]).finally(() => clearTimeout(timer))
}

export interface VerifyRequest {
  env?: string
  services: string[]
  timeoutSeconds?: number
  /** Traffic window and what-changed window, seconds. */
  windowSeconds?: number
  sinceSeconds?: number
}

function verifyOptions(req: VerifyRequest): RunVerifyOptions {
  if (req.timeoutSeconds !== undefined && !(req.timeoutSeconds > 0))
    throw new UserError('--timeout must be a positive number of seconds', 'for example --timeout 20')
  return {
    services: req.services,
    deadlineMs: req.timeoutSeconds ? req.timeoutSeconds * 1000 : undefined,
    traffic: true,
    trafficWindowSeconds: req.windowSeconds ?? VERIFY_DEFAULTS.trafficWindowSeconds,
    changesSinceSeconds: req.sinceSeconds ?? DEFAULT_SINCE_SECONDS,
    explainPods: true,
  }
}

/** `autolytiq verify`: read-only, so it takes no lock and can run beside a deploy during an incident. */
export async function verify(req: VerifyRequest): Promise<VerifyResult> {
  const opts = verifyOptions(req)
  const { ctx } = await buildContext({ env: req.env })
  try {
    return await runVerify(ctx, opts)
  } finally {
    ctx.clients.http.close()
  }
}

export interface WatchRequest extends VerifyRequest {
  intervalSeconds: number
  /** Give up after this many seconds (exit 1). */
  watchTimeoutSeconds: number
}

/**
 * `verify --watch`: verify again every `intervalSeconds` until every check passes (true) or the
 * time is up (false). `onRound` sees each result; the caller prints what changed since the last.
 */
export async function watchVerify(req: WatchRequest, onRound: (r: VerifyResult, round: number) => void, signal?: AbortSignal): Promise<VerifyResult> {
  const opts = verifyOptions(req)
  const { ctx } = await buildContext({ env: req.env })
  const end = Date.now() + req.watchTimeoutSeconds * 1000
  try {
    for (let round = 1; ; round++) {
      const started = Date.now()
      // Only the first round answers "what changed" and explains pods; later rounds watch the checks.
      const result = await runVerify(ctx, round === 1 ? opts : { ...opts, changesSinceSeconds: undefined, explainPods: false })
      onRound(result, round)
      // Green is what verify exits 0 on: no failure (a standing warning, like no NetworkPolicy, must not keep it waiting).
      const green = result.result !== 'fail'
      if (green || Date.now() >= end || signal?.aborted) return result
      const wait = Math.min(Math.max(0, req.intervalSeconds * 1000 - (Date.now() - started)), Math.max(0, end - Date.now()))
      await new Promise((r) => setTimeout(r, wait))
    }
  } finally {
    ctx.clients.http.close()
  }
}
