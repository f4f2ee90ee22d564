import { spawn } from 'node:child_process'
import { BIN, REPO } from './cli.js'

/**
 * `autolytiq checklist` in a real terminal (util-linux `script` gives it a pty): a person answers
 * every manual item "yes" — one arrow key down from the default "no" — and Enter.
 */
export function answerChecklist(env: Record<string, string | undefined>, envName = 'sandbox'): Promise<{ code: number | null; output: string }> {
  const { CI: _ci, ...noCi } = process.env
  const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} checklist --env ${envName}`, '/dev/null'], {
    cwd: REPO,
    env: { ...noCi, ...env, TERM: 'xterm' },
  })
  let output = ''
  child.stdout.on('data', (b: Buffer) => (output += b.toString()))
  const enter = setInterval(() => child.stdin.write('\x1b[B\r'), 300)
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearInterval(enter)
      // terminal escape sequences stripped for the failure message
      resolve({ code, output: output.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g'), '') })
    }),
  )
}
