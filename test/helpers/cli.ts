import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const REPO = resolve(import.meta.dirname, '..', '..')
export const BIN = join(REPO, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  signal?: NodeJS.Signals | null
}

/** A fresh AUTOLYTIQ_HOME (state, locks, audit, work files) per test. */
export function tempHome(prefix = 'autolytiq-test-'): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), prefix))
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) }
}

/** Runs the built CLI as a child process, exactly as an engineer would (no TTY, CI=true). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: opts.cwd ?? REPO, env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 20 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
        resolvePromise({ code: typeof e?.code === 'number' ? e.code : e ? 1 : 0, stdout, stderr, signal: e?.signal })
      },
    )
  })
}
