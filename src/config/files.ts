import { readFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { load, CORE_SCHEMA, YAMLException } from 'js-yaml'
import type { z } from 'zod'
import { UserError } from '../engine/errors.js'

/** Largest config/catalog/runbook/state file we will read: these are hand-written files. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024

/** The project root: the folder holding autolytiq.yaml (AUTOLYTIQ_ROOT, else searched upward from cwd). */
export function findProjectRoot(start = process.cwd()): string {
  if (process.env.AUTOLYTIQ_ROOT) return resolve(process.env.AUTOLYTIQ_ROOT)
  let dir = resolve(start)
  for (;;) {
    if (existsSync(join(dir, 'autolytiq.yaml'))) return dir
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  // Installed package: ship its own config, catalog and runbooks.
  const packaged = resolve(dirname(new URL(import.meta.url).pathname), '..', '..')
  if (existsSync(join(packaged, 'autolytiq.yaml'))) return packaged
  throw new UserError('no autolytiq.yaml found in this folder or any parent', 'run autolytiq from the project checkout, or set AUTOLYTIQ_ROOT')
}

function readText(path: string, what: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UserError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'file not found' : code}`)
  }
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw new UserError(`${what} ${path} is larger than ${MAX_FILE_BYTES} bytes; refusing to read it`)
  return text
}

/**
 * Reads a YAML file and validates it; errors name the file, the path and the expectation.
 * js-yaml rather than `yaml` (used for writing manifests): every command reads the config first,
 * and js-yaml loads and parses in about a fifth of the time, which is most of the CLI's own
 * start-up cost. CORE_SCHEMA keeps YAML 1.2 semantics (no timestamps); duplicate keys are errors.
 */
export function loadYamlFile<S extends z.ZodTypeAny>(path: string, schema: S, what: string): z.output<S> {
  const text = readText(path, what)
  let data: unknown
  try {
    data = load(text, { schema: CORE_SCHEMA, filename: path })
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err
    throw new UserError(`${what} ${path} is not valid YAML: ${err.reason}`, `fix the file at line ${err.mark ? err.mark.line + 1 : '?'}`)
  }
  return validate(data ?? null, schema, `${what} ${path}`)
}

export function validate<S extends z.ZodTypeAny>(data: unknown, schema: S, where: string): z.output<S> {
  const parsed = schema.safeParse(data)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.slice(0, 5).map((i) => `  at ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`)
  const more = parsed.error.issues.length > 5 ? `\n  ...and ${parsed.error.issues.length - 5} more` : ''
  throw new UserError(`${where} is invalid:\n${issues.join('\n')}${more}`)
}
