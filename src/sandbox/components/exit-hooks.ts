/**
 * Last-resort cleanup: synchronous hooks run when this process exits normally, after an uncaught
 * exception, or on SIGINT/SIGTERM/SIGHUP (where Node would otherwise die without an 'exit'
 * event). Regular cleanup is each component's stop(); this only covers what a crashed or
 * interrupted test run skipped. Hooks run by ascending `order`: processes are killed (0) before
 * their directories are removed (10).
 */
const hooks: { hook: () => void; order: number }[] = []
let installed = false
let ran = false

function runAll(): void {
  if (ran) return
  ran = true
  for (const { hook } of [...hooks].sort((a, b) => a.order - b.order)) {
    try {
      hook()
    } catch {
      // keep going: the remaining hooks matter more than one failure
    }
  }
}

export function onExit(hook: () => void, order = 0): void {
  hooks.push({ hook, order })
  if (installed) return
  installed = true
  // prepend: vitest's own SIGINT/exit handlers call process.exit(), after which later 'exit'
  // listeners never run; ours must run first.
  process.prependListener('exit', runAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      runAll()
      // Re-raise only when nobody else (e.g. vitest) handles the signal, keeping Node's default
      // "die on signal" behaviour without overriding another handler's decision.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal)
        process.kill(process.pid, sig)
      }
    }
    process.prependListener(sig, onSignal)
  }
}
