import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { REPO } from '../helpers/cli.js'
import { translateAwsError } from '../../src/clients/aws.js'

/**
 * Every command the CLI can print — in a "Next:" hint, an error's next step, a summary line —
 * must run as printed: the command exists, its flags exist, required flags are there, and an
 * environment-scoped command names `--env`. The hints are collected from the source itself: every
 * code span (`autolytiq …`) inside a string or template literal under src/ (comments are not
 * printed, so they are not collected). Commands are checked against the oclif manifest that
 * `npm run build` writes, plus the plugins' manifests (autocomplete, help).
 */

interface FlagSpec {
  type: 'option' | 'boolean'
  required?: boolean
  char?: string
}
interface CommandSpec {
  flags: Record<string, FlagSpec>
  args: Record<string, unknown>
}

function loadCommands(): Map<string, CommandSpec> {
  const manifests = [join(REPO, 'oclif.manifest.json')]
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { oclif: { plugins: string[] } }
  for (const plugin of pkg.oclif.plugins) manifests.push(join(REPO, 'node_modules', plugin, 'oclif.manifest.json'))
  const commands = new Map<string, CommandSpec>()
  for (const file of manifests) {
    if (!existsSync(file)) throw new Error(`${relative(REPO, file)} is missing: run \`npm run build\` first`)
    const m = JSON.parse(readFileSync(file, 'utf8')) as { commands: Record<string, CommandSpec> }
    for (const [id, spec] of Object.entries(m.commands)) commands.set(id.replace(/:/g, ' '), spec)
  }
  return commands
}

const commands = loadCommands()
const topics = new Set(
  [...commands.keys()].flatMap((id) =>
    id
      .split(' ')
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join(' ')),
  ),
)

/** What a `${…}` stands for when the hint is printed: an environment name, or some value. */
function sampleFor(expression: string): string {
  if (/env(Name|ironment)?\b|\benv\)?$/i.test(expression)) return 'sandbox'
  return 'VALUE'
}

interface Hint {
  file: string
  line: number
  text: string
}

/**
 * The printable text of every string, template literal and `+` concatenation of them in a source
 * file, each `${x}` (or non-literal operand) filled in with what it stands for.
 */
function literals(file: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out: { text: string; line: number }[] = []
  const isConcat = (n: ts.Node): n is ts.BinaryExpression => ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken
  const textOf = (node: ts.Node): string | undefined => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text
    if (ts.isTemplateExpression(node))
      // a nested template inside ${…} is visited on its own; here it stands for a value
      return node.head.text + node.templateSpans.map((span) => sampleFor(span.expression.getText(source)) + span.literal.text).join('')
    if (ts.isParenthesizedExpression(node)) return textOf(node.expression)
    if (isConcat(node)) {
      const [l, r] = [textOf(node.left), textOf(node.right)]
      if (l === undefined && r === undefined) return undefined
      return (l ?? sampleFor(node.left.getText(source))) + (r ?? sampleFor(node.right.getText(source)))
    }
    return undefined
  }
  const visit = (node: ts.Node): void => {
    const text = isConcat(node) && isConcat(node.parent) ? undefined : textOf(node)
    if (text !== undefined) out.push({ text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 })
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** The code spans of a text: what is between a pair of backticks. */
const codeSpans = (text: string): string[] => text.split('`').filter((_, i, all) => i % 2 === 1 && i < all.length - 1)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/** Code spans that start with `autolytiq <command or topic>`: what a person would paste. */
function collectHints(): Hint[] {
  const hints: Hint[] = []
  for (const file of sourceFiles(join(REPO, 'src')))
    for (const lit of literals(file))
      // a code span in a message, or a whole literal that is a command line with flags (built by a helper)
      for (const span of [...codeSpans(lit.text), ...(/^autolytiq [a-z][^`]* --[a-z]/.test(lit.text) ? [lit.text] : [])]) {
        const [bin, first = ''] = span.trim().split(/\s+/)
        if (bin === 'autolytiq' && (commands.has(first) || topics.has(first))) hints.push({ file: relative(REPO, file), line: lit.line, text: span.trim() })
      }
  return hints
}

/** Why a command line would not run as printed, or undefined when it would. */
export function problemWith(line: string, opts: { helpText?: boolean } = {}): string | undefined {
  // a <placeholder> is one word even with spaces in it; a shell redirection is not the CLI's
  const shell = line.replace(/<[^>]*>/g, 'PLACEHOLDER').replace(/\s+>\s*\S+/g, '')
  for (const part of shell.split(/\s*&&\s*/)) {
    const words = part.trim().split(/\s+/)
    if (words.shift() !== 'autolytiq') return `"${part}" does not start with autolytiq`
    let id = ''
    for (let n = words.length; n > 0; n--)
      if (commands.has(words.slice(0, n).join(' '))) {
        id = words.slice(0, n).join(' ')
        words.splice(0, n)
        break
      }
    if (!id) return `no such command: autolytiq ${words.join(' ')}`
    const spec = commands.get(id)!
    const given = new Set<string>()
    let positional = 0
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!
      if (w.startsWith('-')) {
        const [raw, inline] = w.split('=', 2)
        const name = raw!.startsWith('--') ? raw!.slice(2) : Object.entries(spec.flags).find(([, f]) => `-${f.char}` === raw)?.[0]
        const flag = name ? spec.flags[name] : undefined
        if (!name || !flag) return `autolytiq ${id} has no flag ${raw}`
        if (flag.type === 'option' && inline === undefined && (words[i + 1] === undefined || words[i + 1]!.startsWith('-')))
          return `${raw} of autolytiq ${id} needs a value`
        if (flag.type === 'option' && inline === undefined) i++
        given.add(name)
      } else positional++
    }
    if (positional > Object.keys(spec.args ?? {}).length) return `autolytiq ${id} takes ${Object.keys(spec.args ?? {}).length} argument(s): "${part}"`
    for (const [name, f] of Object.entries(spec.flags)) if (f.required && !given.has(name)) return `autolytiq ${id} needs --${name}`
    if (spec.flags.env && !given.has('env')) return `autolytiq ${id} works on one environment: the hint must name --env`
    if (!opts.helpText && /<env>/.test(part)) return 'a placeholder <env> where the environment is known'
  }
  return undefined
}

describe('printed commands', () => {
  const hints = collectHints()

  it('the collector finds the hints (a broken collector would pass everything)', () => {
    expect(hints.length).toBeGreaterThan(40)
    expect(hints.map((h) => h.text)).toContain('autolytiq deploy --env sandbox --from images.verify')
    // and the checker rejects what it must reject
    expect(problemWith('autolytiq rollback --image-tag <tag> --service deal-service')).toMatch(/--env/)
    expect(problemWith('autolytiq deploy --env sandbox --bogus')).toMatch(/no flag --bogus/)
    expect(problemWith('autolytiq rollback infra --env sandbox')).toMatch(/needs --state-version/)
    expect(problemWith('autolytiq deplo --env sandbox')).toMatch(/no such command/)
    expect(problemWith('autolytiq sandbox down && autolytiq sandbox up')).toBeUndefined()
  })

  it('every hint under src/ runs as printed', () => {
    // help text (commands' descriptions, the exit-code table) documents usage with placeholders;
    // a message printed at run time knows the environment and names it
    const helpText = (file: string): boolean => file.startsWith('src/commands/') || file === 'src/engine/errors.ts'
    const bad = hints
      .map((h) => ({ at: `${h.file}:${h.line}`, hint: h.text, problem: problemWith(h.text, { helpText: helpText(h.file) }) }))
      .filter((h) => h.problem)
    expect(bad).toEqual([])
  })

  it('no hint puts prose inside its code span', () => {
    // "run `aws sso login (or refresh your AWS credentials)`" cannot be pasted
    const all = sourceFiles(join(REPO, 'src')).flatMap((f) => literals(f).map((l) => ({ at: `${relative(REPO, f)}:${l.line}`, text: l.text })))
    const prose = all.flatMap((l) =>
      codeSpans(l.text)
        .filter((span) => /\((or|and|e\.g\.) /.test(span))
        .map((span) => ({ at: l.at, span })),
    )
    expect(prose).toEqual([])
  })
})

describe('the README', () => {
  it('every `autolytiq …` line of its code blocks runs as printed', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
    const lines = [...readme.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n'))
    // (a synopsis like `autolytiq sandbox up | status | down` is not a command line)
    const commandLines = lines.map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => /^autolytiq [a-z]/.test(l) && !/ \| /.test(l))
    expect(commandLines.length).toBeGreaterThan(10)
    const bad = commandLines.map((l) => ({ line: l, problem: problemWith(l, { helpText: true }) })).filter((x) => x.problem)
    expect(bad).toEqual([])
  })
})

describe('AWS credential hints', () => {
  /** What the real SDK says with this environment, through translateAwsError. */
  async function credentialError(env: Record<string, string | undefined>, profile?: string): Promise<{ message: string; next?: string }> {
    const saved = { ...process.env }
    const dir = mkdtempSync(join(tmpdir(), 'autolytiq-aws-'))
    writeFileSync(join(dir, 'config'), '[profile known]\nregion = us-east-1\nsso_start_url = https://example.awsapps.com/start\n')
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    })
    for (const k of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ])
      delete process.env[k]
    Object.assign(process.env, env)
    try {
      const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
      const err = await new STSClient({ region: 'us-east-1', maxAttempts: 1 }).send(new GetCallerIdentityCommand({})).then(
        () => undefined,
        (e: unknown) => e,
      )
      const translated = translateAwsError(err, 'sts.GetCallerIdentity', undefined, profile) as { message: string; next?: string }
      return { message: translated.message, next: translated.next }
    } finally {
      process.env = saved
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('an unknown AWS_PROFILE is named as the problem, not "set AWS_PROFILE"', async () => {
    const e = await credentialError({ AWS_PROFILE: 'nosuch' })
    expect(e.message).toBe('AWS profile "nosuch" is not configured on this machine (AWS_PROFILE)')
    expect(e.next).toBe('create it with `aws configure sso --profile nosuch`, or set AWS_PROFILE to a profile in ~/.aws/config; then re-run the same command')
  })

  it('expired credentials: the login command alone in the code span', () => {
    const expired = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredToken' })
    expect((translateAwsError(expired, 'sts.GetCallerIdentity') as { next?: string }).next).toBe(
      'run `aws sso login` (or refresh your AWS credentials), then re-run the same command',
    )
  })

  it('no profile at all: the login command alone in the code span', async () => {
    const e = await credentialError({})
    expect(e.message).toBe('no AWS credentials found for sts.GetCallerIdentity')
    expect(e.next).toBe('run `aws sso login` (or export AWS credentials), or set AWS_PROFILE; then re-run the same command')
  })
})
