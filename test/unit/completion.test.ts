import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../helpers/cli.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'
import { MARKER, valueFlags, withBashValues, withZshValues } from '../../src/completion/shell.js'

/**
 * Shell completion end to end: `autolytiq autocomplete` (oclif) generates the bash and zsh
 * functions, our postrun hook layers value completion on top, and real bash and zsh complete
 * command lines by calling the real CLI. Environments come from the test project's own
 * autolytiq.yaml (alpha, beta) to prove they are read from the config, not built in.
 */

let project: TempProject
let work: string
let env: Record<string, string>
/** What `autolytiq autocomplete script bash` printed: the line an engineer adds to ~/.bashrc. */
let bashSetupLine: string

function hasShell(name: string): boolean {
  return spawnSync(name, ['-c', 'exit 0']).status === 0
}

/** Completes `words` (the last one is being typed) in a real bash, through the setup line oclif prints. */
function bashComplete(words: string[]): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ')
  const script = [
    bashSetupLine,
    `COMP_WORDS=(${quoted})`,
    'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))',
    'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}',
    "fn=$(complete -p autolytiq | sed -E 's/.*-F ([^ ]+).*/\\1/')",
    '"$fn" autolytiq "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n')
  return execFileSync('bash', ['--norc', '--noprofile', '-c', script], { env, encoding: 'utf8', timeout: 60_000 })
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

/**
 * Completes `line` in a real interactive zsh driven through a pseudo-terminal (zsh/zpty): the
 * completion system runs for real; `compadd` is wrapped only to print what it would offer.
 */
const ZSH_SETUP = (fpathDir: string): string => `
PROMPT=''
fpath=(${fpathDir} $fpath)
autoload -Uz compinit && compinit -u -D
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
_cap_begin() { print -r -- '<<BEGIN>>' }
_cap_end() { print -r -- '<<END>>' }
compprefuncs=( _cap_begin )
comppostfuncs=( _cap_end exit )
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return; fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -rl -- $__hits
}
print ok
`

const ZSH_CAPTURE = `
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "source \${1}"
local line
repeat 20; do zpty -r z line; [[ $line == ok* ]] && break; done
zpty -w z "\${2}"$'\\t'
local on=0
while zpty -r z line; do
  line=\${line//$'\\r'/}; line=\${line%$'\\n'}
  [[ $line == *'<<END>>'* ]] && break
  (( on )) && print -r -- $line
  [[ $line == *'<<BEGIN>>'* ]] && on=1
done
zpty -d z
`

function zshComplete(line: string): string[] {
  return execFileSync('zsh', ['-f', join(work, 'capture.zsh'), join(work, 'setup.zsh'), line], { env, encoding: 'utf8', timeout: 60_000 })
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

beforeAll(async () => {
  project = tempProject({ environments: { alpha: localEnvironment({ description: 'first' }), beta: localEnvironment({ description: 'second' }) } })
  work = mkdtempSync(join(tmpdir(), 'autolytiq-completion-'))
  // `autolytiq` on PATH is the real CLI of this checkout, as after `npm install -g`.
  mkdirSync(join(work, 'bin'))
  writeFileSync(join(work, 'bin', 'autolytiq'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
  chmodSync(join(work, 'bin', 'autolytiq'), 0o755)
  env = {
    ...(process.env as Record<string, string>),
    ...project.env,
    PATH: `${join(work, 'bin')}:${process.env.PATH}`,
    AUTOLYTIQ_CACHE_DIR: join(work, 'cache'),
    CI: 'true',
    NO_COLOR: '1',
  }
  const setup = await runCli(['autocomplete', 'bash'], env)
  expect(setup.code, setup.stderr).toBe(0)
  const script = await runCli(['autocomplete', 'script', 'bash'], env)
  expect(script.code, script.stderr).toBe(0)
  bashSetupLine = script.stdout.trim()
  writeFileSync(join(work, 'setup.zsh'), ZSH_SETUP(join(work, 'cache', 'autocomplete', 'functions', 'zsh')))
  writeFileSync(join(work, 'capture.zsh'), ZSH_CAPTURE)
})

afterAll(() => {
  project?.cleanup()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('generated completion scripts', () => {
  it('`autocomplete script bash` prints the setup line, and the function file carries oclif and the value layer', () => {
    const setupPath = join(work, 'cache', 'autocomplete', 'bash_setup')
    expect(bashSetupLine).toContain(
      `AUTOLYTIQ_AC_BASH_SETUP_PATH=${setupPath} && test -f $AUTOLYTIQ_AC_BASH_SETUP_PATH && source $AUTOLYTIQ_AC_BASH_SETUP_PATH;`,
    )
    const fn = readFileSync(join(work, 'cache', 'autocomplete', 'functions', 'bash', 'autolytiq.bash'), 'utf8')
    expect(fn).toContain('_autolytiq_autocomplete()') // oclif's commands and flags
    expect(fn).toMatch(/deploy --env --phase --from --only --dry-run --yes --auto-rollback --rollback-past-migration --json/)
    expect(fn).toContain(MARKER)
    expect(fn).toMatch(/--env\|-e\) kind=env ;;/)
    expect(fn).toMatch(/--only\|--from\) kind=step ;;/)
    expect(fn.trimEnd().endsWith('complete -F _autolytiq_values autolytiq')).toBe(true)
    expect(spawnSync('bash', ['-n', join(work, 'cache', 'autocomplete', 'functions', 'bash', 'autolytiq.bash')]).status).toBe(0)
  })

  it('`autocomplete script zsh` points at the zsh setup, whose function wraps oclif with the value layer', async () => {
    const r = await runCli(['autocomplete', 'script', 'zsh'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`AUTOLYTIQ_AC_ZSH_SETUP_PATH=${join(work, 'cache', 'autocomplete', 'zsh_setup')}`)
    const fn = readFileSync(join(work, 'cache', 'autocomplete', 'functions', 'zsh', '_autolytiq'), 'utf8')
    expect(fn.startsWith('#compdef autolytiq')).toBe(true)
    expect(fn).toContain('_autolytiq_oclif() {')
    expect(fn).toContain('_describe -t $kind $kind candidates')
    expect(fn.trimEnd().endsWith('_autolytiq "$@"')).toBe(true)
    if (hasShell('zsh')) expect(spawnSync('zsh', ['-n', join(work, 'cache', 'autocomplete', 'functions', 'zsh', '_autolytiq')]).status).toBe(0)
  })

  it('regenerating the cache adds the layer once', async () => {
    const again = await runCli(['autocomplete', '--refresh-cache'], env)
    expect(again.code, again.stderr).toBe(0)
    for (const f of [join('bash', 'autolytiq.bash'), join('zsh', '_autolytiq')]) {
      const text = readFileSync(join(work, 'cache', 'autocomplete', 'functions', f), 'utf8')
      expect(text.split(MARKER).length - 1, f).toBe(1)
    }
  })
})

describe('bash completes commands, flags and values', () => {
  it('commands and flags (oclif)', () => {
    expect(bashComplete(['autolytiq', 'dep'])).toEqual(['deploy'])
    expect(bashComplete(['autolytiq', 'deploy', '--dr'])).toEqual(['--dry-run'])
  })

  it('environments from autolytiq.yaml', () => {
    expect(bashComplete(['autolytiq', 'deploy', '--env', ''])).toEqual(['alpha', 'beta'])
    expect(bashComplete(['autolytiq', 'status', '-e', 'b'])).toEqual(['beta'])
    expect(bashComplete(['autolytiq', 'deploy', '--env', '=', 'al'])).toEqual(['alpha'])
  })

  it('services from the catalog, step ids and phases from the runbook', () => {
    expect(bashComplete(['autolytiq', 'verify', '--service', 'deal'])).toEqual(['deal-service'])
    expect(bashComplete(['autolytiq', 'deploy', '--only', 'ecr.'])).toEqual(['ecr.repositories'])
    expect(bashComplete(['autolytiq', 'deploy', '--from', 'terraform.a'])).toEqual(['terraform.apply'])
    expect(bashComplete(['autolytiq', 'deploy', '--phase', ''])).toEqual(expect.arrayContaining(['1', '8', 'prerequisites', 'verification']))
  })
})

describe.runIf(hasShell('zsh'))('zsh completes commands, flags and values (with descriptions)', () => {
  it('commands, flags and values', () => {
    expect(zshComplete('autolytiq dep')).toEqual(['deploy'])
    expect(zshComplete('autolytiq deploy --dr')).toEqual(['--dry-run'])
    expect(zshComplete('autolytiq deploy --env ')).toEqual(['alpha', 'beta'])
    expect(zshComplete('autolytiq deploy --env=b')).toEqual(['beta'])
    expect(zshComplete('autolytiq verify -s customer')).toEqual(['customer-service'])
    expect(zshComplete('autolytiq deploy --only dns.p')).toEqual(['dns.propagation'])
  })
})

describe('autolytiq complete (the candidates the shell functions ask for)', () => {
  it('prints values, descriptions for zsh, and JSON', async () => {
    const plain = await runCli(['complete', 'env'], env)
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout.trim().split('\n')).toEqual(['alpha', 'beta'])
    const described = await runCli(['complete', 'env', '--describe'], env)
    expect(described.stdout.trim().split('\n')).toEqual(['alpha:first', 'beta:second'])
    const services = await runCli(['complete', 'service', '--json'], env)
    const catalog = JSON.parse(services.stdout) as { value: string }[]
    expect(catalog).toHaveLength(12)
    expect(catalog.map((c) => c.value)).toContain('data-retention-service')
  })

  it('prints nothing and exits 0 outside a project, so a <TAB> never shows an error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'autolytiq-noproject-'))
    try {
      const r = await runCli(['complete', 'step'], { ...env, AUTOLYTIQ_ROOT: empty })
      expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  it('is hidden from help and from the generated command list', async () => {
    const help = await runCli(['--help'], env)
    expect(help.stdout).not.toMatch(/^\s+complete\s/m)
    const fn = readFileSync(join(work, 'cache', 'autocomplete', 'functions', 'bash', 'autolytiq.bash'), 'utf8')
    expect(fn).not.toMatch(/^complete --describe/m)
    expect(fn).toMatch(/^deploy --env/m)
  })
})

describe('value flags and layering rules', () => {
  it('uses a short letter only when every command means the same flag by it', () => {
    const flags = valueFlags([
      { flags: { env: { name: 'env', char: 'e' }, service: { name: 'service', char: 's' } } },
      { flags: { since: { name: 'since', char: 's' } } },
    ])
    expect(flags.find((f) => f.kind === 'env')?.words).toEqual(['--env', '-e'])
    expect(flags.find((f) => f.kind === 'service')?.words).toEqual(['--service'])
    expect(flags.find((f) => f.kind === 'step')?.words).toEqual(['--only', '--from'])
  })

  it('leaves an unexpected zsh file alone and adds the bash layer once', () => {
    expect(withZshValues('#compdef autolytiq\nsomething else\n', 'autolytiq', [])).toBeUndefined()
    const once = withBashValues('complete -F _autolytiq_autocomplete autolytiq\n', 'autolytiq', [])
    expect(withBashValues(once, 'autolytiq', [])).toBe(once)
  })
})
