import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { runbookFiles } from '../engine/runbook.js'

export const COMPLETION_KINDS = ['env', 'service', 'step', 'phase'] as const
export type CompletionKind = (typeof COMPLETION_KINDS)[number]

export interface Candidate {
  value: string
  description?: string
}

type Loose = Record<string, unknown>

/**
 * Completion reads the files leniently (plain YAML, no schema): it runs on every <TAB>, must
 * answer while a file is half-edited, and must never print an error into the command line.
 */
function readYaml(path: string): Loose | undefined {
  try {
    const data: unknown = load(readFileSync(path, 'utf8'))
    return data && typeof data === 'object' ? (data as Loose) : undefined
  } catch {
    return undefined
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().split('\n')[0] : undefined)
const list = (v: unknown): Loose[] => (Array.isArray(v) ? v.filter((x): x is Loose => Boolean(x) && typeof x === 'object') : [])

function environments(root: string): Candidate[] {
  const envs = readYaml(join(root, 'autolytiq.yaml'))?.environments
  if (!envs || typeof envs !== 'object') return []
  return Object.entries(envs as Loose).map(([value, e]) => ({ value, description: text((e as Loose | null)?.description) }))
}

function services(root: string): Candidate[] {
  return list(readYaml(join(root, 'services', 'catalog.yaml'))?.services)
    .filter((s) => typeof s.name === 'string')
    .map((s) => ({ value: s.name as string, description: text(s.description) }))
}

function runbook(root: string, name: string): Loose | undefined {
  return readYaml(join(root, 'runbooks', `${name}.yaml`))
}

/** Step ids of every runbook, go-live first (what deploy --only/--from take). */
function steps(root: string): Candidate[] {
  let names: string[]
  try {
    names = runbookFiles(root)
  } catch {
    return []
  }
  names.sort((a, b) => (a === 'go-live' ? -1 : b === 'go-live' ? 1 : a.localeCompare(b)))
  const seen = new Map<string, Candidate>()
  for (const name of names)
    for (const ph of list(runbook(root, name)?.phases))
      for (const s of list(ph.steps)) {
        const id = text(s.id) ?? text(s.uses)
        if (id && !seen.has(id)) seen.set(id, { value: id, description: `${name} phase ${String(ph.number ?? '?')}: ${text(ph.title) ?? ''}`.trim() })
      }
  return [...seen.values()]
}

/** go-live phases by number and by id (deploy --phase takes either). */
function phases(root: string): Candidate[] {
  const out: Candidate[] = []
  for (const ph of list(runbook(root, 'go-live')?.phases)) {
    const title = text(ph.title)
    if (typeof ph.number === 'number') out.push({ value: String(ph.number), description: title })
    if (typeof ph.id === 'string') out.push({ value: ph.id, description: title })
  }
  return out
}

/** What <TAB> offers after --env, --service, --only/--from and --phase, from the project's own files. */
export function completionCandidates(kind: CompletionKind, root: string): Candidate[] {
  switch (kind) {
    case 'env':
      return environments(root)
    case 'service':
      return services(root)
    case 'step':
      return steps(root)
    case 'phase':
      return phases(root)
  }
}
