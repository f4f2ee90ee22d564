import { UserError } from './errors.js'

/** Prompts are possible only on an interactive terminal outside CI (STYLE.md "validate, ask, execute"). */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !isCI()
}

export function isCI(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

export interface Prompter {
  readonly interactive: boolean
  /** Yes/no; in non-interactive mode `--yes` answers yes, otherwise it is an error (exit 2). */
  confirm(message: string, reason: string): Promise<boolean>
  /** The engineer must type `expected` (the environment name) to go on. */
  typed(message: string, expected: string, reason: string): Promise<void>
  /** A hidden answer (secrets); never echoed, never logged. */
  secret(message: string): Promise<string>
  /** A free-form manual checklist answer. */
  choose<T extends string>(message: string, choices: T[]): Promise<T>
}

export class TerminalPrompter implements Prompter {
  readonly interactive: boolean

  constructor(
    private readonly yes: boolean,
    interactive = canPrompt(),
    /** Where the questions are drawn: the terminal, or a live progress view's prompt area (runner.ts). */
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {
    this.interactive = interactive
  }

  /** The same prompter, drawing its questions on `output`. */
  drawingOn(output: NodeJS.WritableStream): TerminalPrompter {
    return new TerminalPrompter(this.yes, this.interactive, output)
  }

  private refuse(reason: string): never {
    throw new UserError(`${reason}, and this run cannot ask for confirmation (no terminal, or CI=true)`, 'review with --dry-run, then re-run with --yes')
  }

  async confirm(message: string, reason: string): Promise<boolean> {
    if (this.yes) return true
    if (!this.interactive) this.refuse(reason)
    const { confirm } = await import('@inquirer/prompts')
    return confirm({ message, default: false }, { output: this.output })
  }

  async typed(message: string, expected: string, reason: string): Promise<void> {
    if (this.yes) return
    if (!this.interactive) this.refuse(reason)
    const { input } = await import('@inquirer/prompts')
    const answer = await input({ message: `${message}\n  Type "${expected}" to continue:` }, { output: this.output })
    if (answer.trim() !== expected) throw new UserError(`confirmation did not match "${expected}"; nothing was changed`)
  }

  async secret(message: string): Promise<string> {
    if (!this.interactive)
      throw new UserError(
        `${message}: a value is needed and this run cannot prompt`,
        'set it through the documented environment variable, or run interactively',
      )
    const { password } = await import('@inquirer/prompts')
    return password({ message, mask: true }, { output: this.output })
  }

  async choose<T extends string>(message: string, choices: T[]): Promise<T> {
    if (!this.interactive) throw new UserError(`${message}: needs an answer from a person`, 'run interactively')
    const { select } = await import('@inquirer/prompts')
    return select({ message, choices: choices.map((c) => ({ value: c, name: c })) }, { output: this.output })
  }
}
