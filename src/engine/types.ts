import type { z } from 'zod'
import type { Environment } from '../config/environments.js'
import type { Catalog } from '../config/catalog.js'
import type { AwsClients } from '../clients/aws.js'
import type { KubeClients } from '../clients/kube.js'
import type { HttpClient } from '../clients/http.js'
import type { Exec } from '../clients/exec.js'
import type { StateStore, RollbackPoint } from './state.js'
import type { AuditLog } from './audit.js'
import type { Prompter } from './prompt.js'

/** Outside systems, built once per command in one factory (src/engine/context.ts). */
export interface Clients {
  aws: AwsClients
  kube: KubeClients
  http: HttpClient
  exec: Exec
}

export interface Context {
  root: string
  envName: string
  env: Environment
  catalog: Catalog
  clients: Clients
  state: StateStore
  audit: AuditLog
  prompt: Prompter
  runId: string
  /** Aborted on the first Ctrl-C: long waits stop at a safe point. */
  signal: AbortSignal
  dryRun: boolean
  yes: boolean
  /** Progress for the current step (live line on a TTY, plain line in CI). Redacted. */
  log(message: string): void
  /** Non-fatal problem worth the engineer's attention (shown in the summary). */
  warn(message: string): void
}

export type Danger = 'read' | 'mutating' | 'destructive'

/** What check() found. `drift` means it exists but differs; run() repairs it. */
export type CheckResult =
  | { status: 'done'; detail?: string; outputs?: Record<string, unknown> }
  | { status: 'todo'; detail?: string }
  | { status: 'drift'; detail: string }
  | { status: 'skip'; detail: string }

export type Outputs = Record<string, unknown> | void

/**
 * One idempotent unit of a runbook. `check` is read-only; `run` must be safe to repeat after a
 * crash at any instant; `rollbackPoint` is captured before `run`; `verify` is the post-condition.
 */
export interface Step<P = Record<string, unknown>> {
  id: string
  title: string
  /** One sentence for `runbook show`: what it does and which plan section it encodes. */
  description: string
  danger: Danger
  params: z.ZodType<P, z.ZodTypeDef, unknown>
  /** Upper bound for run(); long waits inside take ctx.signal and their own deadlines. */
  timeoutMs?: number
  /** Transient failures (throttling, resets) are retried with backoff this many times. */
  retries?: number
  plan(ctx: Context, p: P): Promise<string[]>
  check(ctx: Context, p: P): Promise<CheckResult>
  rollbackPoint?(ctx: Context, p: P): Promise<Omit<RollbackPoint, 'step' | 'runId' | 'at'> | undefined>
  run(ctx: Context, p: P): Promise<Outputs>
  verify?(ctx: Context, p: P, out: Outputs): Promise<void>
  /** One line on what run() did, from its outputs, for the run report, the state and the audit log (never a secret). */
  summary?(out: Outputs): string | undefined
}

export type CheckStatus = 'pass' | 'warn' | 'fail'

export interface CheckOutcome {
  status: CheckStatus
  detail: string
  ms: number
  /** For a failure: the command to run next, ready to paste (`--env` included). */
  next?: string
  /** Structured evidence for --json and the report (figures, trends); never a secret. */
  data?: Record<string, unknown>
}

/** A read-only probe with a timeout, shared by preflight, verify and the checklist. */
export interface Check {
  id: string
  title: string
  /** Grouping for output: service, tls, dns, kubernetes, database, redis, monitoring, tools... */
  layer: string
  /** Catalog services this check is about (for `verify --service`). */
  services?: string[]
  timeoutMs: number
  run(ctx: Context, signal: AbortSignal): Promise<Omit<CheckOutcome, 'ms'>>
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = Step<any>
