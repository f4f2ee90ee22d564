import { userInfo } from 'node:os'
import { resolve } from 'node:path'
import { runChecks, worst, type CheckReport } from '../checks/run.js'
import { preloadClients, verifyChecks, VERIFY_DEFAULTS, type VerifyCheckOptions } from '../checks/verify.js'
import { renderVerifyReport } from '../render/verify-report.js'
import { buildContext } from './context.js'
import { UserError } from './errors.js'
import { redact } from './redact.js'
import { writeFileAtomic } from './state.js'
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
  /** --service selection; empty means the whole platform. */
  services: string[]
  result: 'pass' | 'warn' | 'fail'
  checks: CheckReport[]
  reportFile?: string
}

export const DEFAULT_DEADLINE_MS = 30_000

export interface RunVerifyOptions extends VerifyCheckOptions {
  deadlineMs?: number
}

/** All verify checks at once: each under its own timeout, all under one deadline (the wall time is the slowest check). */
export async function runVerify(ctx: Context, opts: RunVerifyOptions = {}): Promise<VerifyResult> {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS
  // A per-check limit beyond the deadline would only be cut short by it; keep messages truthful.
  const cap = (ms: number): number => Math.min(ms, deadlineMs)
  const checks = verifyChecks(ctx, {
    ...opts,
    healthTimeoutMs: cap(opts.healthTimeoutMs ?? VERIFY_DEFAULTS.healthTimeoutMs),
    probeTimeoutMs: cap(opts.probeTimeoutMs ?? VERIFY_DEFAULTS.probeTimeoutMs),
  })
  const startedAt = new Date().toISOString()
  const s0 = performance.now()
  await preloadClients(ctx, checks)
  const t0 = performance.now()
  const reports = await runChecks(ctx, checks, { deadlineMs })
  return {
    environment: ctx.envName,
    release: ctx.env.release,
    by: userInfo().username,
    startedAt,
    startupMs: Math.round(t0 - s0),
    durationMs: Math.round(performance.now() - t0),
    deadlineMs,
    services: opts.services ?? [],
    result: worst(reports),
    checks: reports,
  }
}

export interface VerifyRequest {
  env?: string
  services: string[]
  timeoutSeconds?: number
  reportFile?: string
}

/** `autolytiq verify`: read-only, so it takes no lock and can run beside a deploy during an incident. */
export async function verify(req: VerifyRequest): Promise<VerifyResult> {
  if (req.timeoutSeconds !== undefined && !(req.timeoutSeconds > 0))
    throw new UserError('--timeout must be a positive number of seconds', 'for example --timeout 20')
  const { ctx } = await buildContext({ env: req.env })
  const result = await runVerify(ctx, { services: req.services, deadlineMs: req.timeoutSeconds ? req.timeoutSeconds * 1000 : undefined })
  if (req.reportFile) {
    const path = resolve(req.reportFile)
    writeFileAtomic(path, redact(renderVerifyReport(result)), 0o644)
    result.reportFile = path
  }
  return result
}
