import { Command } from '@oclif/core/command'
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import { AutolytiqError, EXIT, EXIT_CODES_HELP } from '../engine/errors.js'
import { redact } from '../engine/redact.js'
import { closest } from './suggest.js'

/** Flags every environment-scoped command takes. */
export const envFlag = Flags.string({
  char: 'e',
  description: 'environment from autolytiq.yaml (or AUTOLYTIQ_ENV); production is never implied',
  helpValue: 'sandbox|staging|prod',
})

export const jsonFlag = Flags.boolean({ description: 'print one JSON document on stdout; no progress output' })

export function describe(text: string): string {
  return `${text}\n\n${EXIT_CODES_HELP}`
}

/**
 * Thin commands: parse flags, call one function, render. This base turns every error into one
 * clear message with the next step and the documented exit code — no stack traces for user errors.
 */
export abstract class BaseCommand extends Command {
  protected json = false

  protected out(text: string): void {
    process.stdout.write(redact(text) + (text.endsWith('\n') ? '' : '\n'))
  }

  protected outJson(value: unknown): void {
    process.stdout.write(redact(JSON.stringify(value, null, 2)) + '\n')
  }

  protected info(text: string): void {
    if (!this.json) process.stderr.write(redact(text) + '\n')
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    let code: number
    let message: string
    let next: string | undefined
    if (err instanceof AutolytiqError) {
      code = err.exitCode
      message = err.message
      next = err.next
    } else if (err instanceof Errors.ExitError) {
      process.exitCode = err.oclif.exit
      return
    } else if (err instanceof Errors.CLIError || (err as { name?: string }).name?.endsWith('FlagError') || /flag|argument/i.test(err.constructor.name)) {
      code = EXIT.usage
      // oclif appends its own "See more help with --help": one help hint is enough.
      message = err.message.replace(/\n?See more help with --help\s*$/, '')
      const help = `\`autolytiq ${this.id?.replace(/:/g, ' ')} --help\``
      const unknown = (err as { flags?: string[] }).flags
      const known = Object.keys((this.constructor as { flags?: Record<string, unknown> }).flags ?? {}).map((f) => `--${f}`)
      const guess = unknown?.length === 1 ? closest(unknown[0]!.split('=')[0]!, known) : undefined
      next = guess ? `did you mean ${guess}? (${help} lists the flags)` : `see ${help}`
    } else {
      code = EXIT.failed
      message = `unexpected error: ${err.message}`
      next = process.env.AUTOLYTIQ_DEBUG ? undefined : 'this is a bug in autolytiq; re-run with AUTOLYTIQ_DEBUG=1 for details and report it'
      if (process.env.AUTOLYTIQ_DEBUG) process.stderr.write(redact(String(err.stack)) + '\n')
    }
    if (this.json) this.outJson({ ok: false, exitCode: code, error: { message, next } })
    else process.stderr.write(redact(`Error: ${message}${next ? `\n  Next: ${next}` : ''}`) + '\n')
    process.exitCode = code
  }
}
