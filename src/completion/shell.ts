import type { CompletionKind } from './candidates.js'

/** Flags whose values come from the project's files, by flag name (the same name means the same thing in every command). */
const KIND_OF_FLAG: Record<string, CompletionKind> = { env: 'env', service: 'service', only: 'step', from: 'step', phase: 'phase' }

export interface ValueFlag {
  kind: CompletionKind
  /** How it is typed: --env, and -e when that letter means the same flag in every command. */
  words: string[]
}

interface FlagLike {
  name?: string
  char?: string
  type?: string
}

/**
 * Which words on the command line take completable values, from the commands' own flag
 * definitions. A short letter is used only when every command agrees on what it means.
 */
export function valueFlags(commands: { flags?: Record<string, FlagLike> }[]): ValueFlag[] {
  const letters = new Map<string, Set<string>>()
  for (const c of commands)
    for (const [name, f] of Object.entries(c.flags ?? {})) if (f.char) letters.set(f.char, (letters.get(f.char) ?? new Set()).add(f.name ?? name))
  const byKind = new Map<CompletionKind, Set<string>>()
  for (const [name, kind] of Object.entries(KIND_OF_FLAG)) byKind.set(kind, (byKind.get(kind) ?? new Set()).add(`--${name}`))
  for (const [char, names] of letters) {
    const [only] = [...names]
    if (names.size === 1 && only && KIND_OF_FLAG[only]) byKind.get(KIND_OF_FLAG[only])!.add(`-${char}`)
  }
  return [...byKind].map(([kind, words]) => ({ kind, words: [...words] }))
}

export const MARKER = '# autolytiq value completion'

const caseArms = (flags: ValueFlag[], indent: string): string => flags.map((f) => `${indent}${f.words.join('|')}) kind=${f.kind} ;;`).join('\n')

/**
 * Bash: wraps oclif's `_<bin>_autocomplete` (commands and flags). After a value flag, asks
 * `<bin> complete <kind>` for the candidates instead. Appended to oclif's generated file.
 */
export function bashLayer(bin: string, flags: ValueFlag[]): string {
  return `
${MARKER}: environments, services, steps and phases from autolytiq.yaml, services/catalog.yaml and runbooks/
_${bin}_values()
{
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" kind=""
  # bash splits "--env=sta" at "=" (COMP_WORDBREAKS): the flag is one word further back
  if [[ "$cur" == "=" ]]; then
    cur=""
  elif [[ "$prev" == "=" && $COMP_CWORD -ge 2 ]]; then
    prev="\${COMP_WORDS[COMP_CWORD-2]}"
  fi
  case "$prev" in
${caseArms(flags, '    ')}
  esac
  if [[ -n "$kind" ]]; then
    local IFS=$'\\n'
    COMPREPLY=( $(compgen -W "$(${bin} complete "$kind" 2>/dev/null)" -- "$cur") )
    return 0
  fi
  _${bin}_autocomplete "$@"
}
complete -F _${bin}_values ${bin}
`
}

/** Zsh: the same, with each value's description (`_describe`). */
function zshLayer(bin: string, flags: ValueFlag[]): string {
  return `
${MARKER}: environments, services, steps and phases from autolytiq.yaml, services/catalog.yaml and runbooks/
_${bin}() {
  local kind=""
  local cur=\${words[CURRENT]}
  case \${words[CURRENT-1]} in
${caseArms(flags, '    ')}
  esac
  if [[ -z $kind && $cur == --*=* ]]; then
    case \${cur%%=*} in
${caseArms(flags, '      ')}
    esac
    [[ -n $kind ]] && compset -P '*='
  fi
  if [[ -n $kind ]]; then
    local -a candidates
    candidates=(\${(f)"$(${bin} complete $kind --describe 2>/dev/null)"})
    _describe -t $kind $kind candidates
    return
  fi
  _${bin}_oclif "$@"
}

_${bin} "$@"
`
}

/** Bash: oclif's file plus the value layer (idempotent: the layer is added once). */
export function withBashValues(generated: string, bin: string, flags: ValueFlag[]): string {
  if (generated.includes(MARKER)) return generated
  return generated.trimEnd() + '\n' + bashLayer(bin, flags)
}

/**
 * Zsh: compinit binds `_<bin>` to the command, so oclif's function is renamed `_<bin>_oclif` and
 * the layer takes its name. Returns undefined when oclif's file no longer has the expected shape
 * (a plugin upgrade): commands and flags still complete, values do not.
 */
export function withZshValues(generated: string, bin: string, flags: ValueFlag[]): string | undefined {
  if (generated.includes(MARKER)) return generated
  const definition = new RegExp(`^_${bin}\\(\\) \\{$`, 'm')
  const finalCall = new RegExp(`\\n_${bin}\\n*$`)
  if (!definition.test(generated) || !finalCall.test(generated)) return undefined
  return generated.replace(definition, `_${bin}_oclif() {`).replace(finalCall, '\n' + zshLayer(bin, flags))
}
