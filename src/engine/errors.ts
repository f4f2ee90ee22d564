/**
 * Exit codes are a contract with scripts and CI (DESIGN.md "Interface contract").
 * They are documented in every command's --help from this one table.
 */
export const EXIT = {
  ok: 0,
  failed: 1, // a step or a check failed, or an outside system errored
  usage: 2, // bad flags, bad config/catalog/runbook/state, missing tool, refused confirmation
  locked: 3, // another run holds the environment's lock
  interrupted: 130, // Ctrl-C: state saved, resumable
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export const EXIT_CODES_HELP = `EXIT CODES
  0    success
  1    a step or check failed (see the message and \`autolytiq status --env <env>\`)
  2    usage or configuration error; nothing was changed
  3    another run holds this environment's lock
  130  interrupted; state saved, re-run the same command to resume`

/** Base class: every error the CLI expects to show a person carries an exit code and a next step. */
export class AutolytiqError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly next?: string,
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** Something the engineer can fix: bad input, config, missing tool. Exit 2, nothing changed. */
export class UserError extends AutolytiqError {
  constructor(message: string, next?: string) {
    super(message, EXIT.usage, next)
  }
}

export class LockHeldError extends AutolytiqError {
  constructor(message: string, next?: string) {
    super(message, EXIT.locked, next)
  }
}

/** A step or check failed, or an outside system said no. Exit 1. */
export class StepFailedError extends AutolytiqError {
  constructor(message: string, next?: string) {
    super(message, EXIT.failed, next)
  }
}

export class InterruptedError extends AutolytiqError {
  constructor(message = 'interrupted', next?: string) {
    super(message, EXIT.interrupted, next)
  }
}

/** A subprocess or API failed; carries the command (already redacted) and what it said. */
export class ExternalError extends AutolytiqError {
  constructor(
    message: string,
    readonly command?: string,
    readonly output?: string,
    readonly transient = false,
    next?: string,
  ) {
    super(message, EXIT.failed, next)
  }
}

export function isTransient(err: unknown): boolean {
  if (err instanceof ExternalError) return err.transient
  if (!(err instanceof Error)) return false
  const e = err as Error & { code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } }
  if (e.$retryable) return true
  if (e.$metadata?.httpStatusCode && [429, 502, 503, 504].includes(e.$metadata.httpStatusCode)) return true
  return ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ThrottlingException', 'TooManyRequestsException'].includes(e.code ?? e.name)
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
