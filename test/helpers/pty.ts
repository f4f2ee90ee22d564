import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, readdirSync, readFileSync } from 'node:fs'

const ESC = String.fromCharCode(27)
/** CSI / OSC sequences and carriage returns: what a person does not read. */
const CONTROL = new RegExp(`${ESC}\\[[0-9;?]*[ -/]*[@-~]|${ESC}\\][^\\x07]*\\x07|${ESC}[()][A-Z0-9]|\\r`, 'g')
export const plain = (s: string): string => s.replace(CONTROL, '')

export interface PtyRun {
  /** Everything the terminal showed so far, control sequences stripped. */
  output(): string
  /** Types into the terminal. */
  write(keys: string): void
  /** Resolves with the text that matched once the output (from `from` on) matches; rejects at the timeout or when the program exits first. */
  waitFor(pattern: RegExp, o?: { from?: number; timeoutMs?: number }): Promise<{ match: RegExpMatchArray; end: number }>
  /** The exit code (a signal counts as 128 + its number, as a shell reports it). */
  exited: Promise<number>
  kill(): void
}

/**
 * A command in a pseudo-terminal, as a person runs it: util-linux `script` (on every Debian)
 * allocates the pty, runs the command line with `bash -c` inside it and copies the terminal to
 * stdout, while what we write to its stdin arrives as keystrokes. node-pty would do the same
 * through a native addon that needs a compiler toolchain at install time; `script` needs nothing.
 */
export function runInPty(commandLine: string, o: { cwd: string; env: Record<string, string>; columns?: number; logFile?: string }): PtyRun {
  const env = { ...o.env, COLUMNS: String(o.columns ?? 120), LINES: '40' }
  // -q quiet, -e the command's exit code, -f flush at once; the typescript goes nowhere.
  const child: ChildProcess = spawn('script', ['-qefc', `stty cols ${env.COLUMNS} rows 40 2>/dev/null; ${commandLine}`, '/dev/null'], {
    cwd: o.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let raw = ''
  let text = ''
  const listeners = new Set<() => void>()
  const onData = (b: Buffer): void => {
    raw += b.toString('utf8')
    if (o.logFile) appendFileSync(o.logFile, b) // follow a long run with tail -f
    text = plain(raw)
    for (const l of listeners) l()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  let done = false
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true
      for (const l of listeners) l()
      resolve(code ?? 128 + (signal ? (({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0) : 0))
    }),
  )

  return {
    output: () => text,
    write: (keys) => void child.stdin!.write(keys),
    exited,
    kill: () => {
      for (const pid of [child.pid!, ...descendants(child.pid!)])
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
    },
    waitFor(pattern, w = {}) {
      const from = w.from ?? 0
      const timeoutMs = w.timeoutMs ?? 60_000
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = text.slice(from).match(pattern)
          if (m) return finish(() => resolve({ match: m, end: from + m.index! + m[0].length }))
          if (done) return finish(() => reject(new Error(`exited before ${pattern}; last output:\n${text.slice(-3000)}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; last output:\n${text.slice(-3000)}`))), timeoutMs)
        const finish = (then: () => void): void => {
          clearTimeout(timer)
          listeners.delete(check)
          then()
        }
        listeners.add(check)
        check()
      })
    },
  }
}

/**
 * Every process below `pid` (from /proc): what runs in the terminal is in a session of its own
 * (`script` makes one), so neither the process group nor a signal to `script` reaches it.
 */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}
