import { join } from 'node:path'
import { readdirSync } from 'node:fs'
import { z } from 'zod'
import { loadYamlFile, validate } from '../config/files.js'
import { UserError } from './errors.js'
import type { AnyStep, Danger } from './types.js'

const stepRef = z
  .object({
    uses: z.string().regex(/^[a-z0-9.-]+$/, 'a step id like ecr.repositories'),
    /** Instance id when one step is used twice; defaults to `uses`. */
    id: z
      .string()
      .regex(/^[a-z0-9.-]+$/)
      .optional(),
    with: z.record(z.unknown()).default({}),
    /** Extra confirmation text shown before this step mutates anything. */
    confirm: z.string().optional(),
  })
  .strict()

const phase = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    number: z.number().int().min(1),
    title: z.string(),
    /** Where this phase comes from in the deployment plan. */
    source: z.string().optional(),
    steps: z.array(stepRef).min(1),
  })
  .strict()

const runbookSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/),
    title: z.string(),
    description: z.string(),
    phases: z.array(phase).min(1),
  })
  .strict()

export interface RunbookStep {
  id: string
  uses: string
  params: unknown
  confirm?: string
  phase: { id: string; number: number; title: string }
  /** undefined when no implementation is registered yet. */
  impl?: AnyStep
}

export interface Runbook {
  name: string
  title: string
  description: string
  file: string
  phases: { id: string; number: number; title: string; source?: string }[]
  steps: RunbookStep[]
}

export function runbookFiles(root: string): string[] {
  return readdirSync(join(root, 'runbooks'))
    .filter((f) => f.endsWith('.yaml') && f !== 'checklist.yaml')
    .map((f) => f.replace(/\.yaml$/, ''))
}

/** An environment's own values for steps' parameters (autolytiq.yaml `stepParams`), over the runbook's `with:`. */
export interface ParamOverrides {
  /** Where they come from, for error messages: `autolytiq.yaml environments.sandbox.stepParams`. */
  source: string
  params: Record<string, Record<string, unknown>>
}

/**
 * Loads a runbook and validates every `uses:` and its parameters against the step registry. An
 * environment's overrides replace single parameters of a step (by step id) and are validated with
 * it; an override for a step this runbook does not use is left for the runbook that does, one for
 * no known step is an error.
 */
export function loadRunbook(root: string, name: string, registry: Map<string, AnyStep>, overrides?: ParamOverrides): Runbook {
  const available = runbookFiles(root)
  if (!available.includes(name)) throw new UserError(`unknown runbook "${name}"`, `available: ${available.join(', ')}`)
  const file = join(root, 'runbooks', `${name}.yaml`)
  const data = loadYamlFile(file, runbookSchema, 'runbook')
  const steps: RunbookStep[] = []
  const seen = new Set<string>()
  for (const ph of data.phases) {
    for (const ref of ph.steps) {
      const id = ref.id ?? ref.uses
      if (seen.has(id)) throw new UserError(`runbook ${file}: step id "${id}" appears twice`, 'give the second one its own `id:`')
      seen.add(id)
      const impl = registry.get(ref.uses)
      const own = overrides?.params[id]
      const where = own ? `runbook ${file} with ${overrides!.source}.${id}: parameters of step "${id}"` : `runbook ${file}: parameters of step "${id}" (with:)`
      const params = impl ? validate({ ...ref.with, ...own }, impl.params, where) : ref.with
      steps.push({ id, uses: ref.uses, params, confirm: ref.confirm, phase: { id: ph.id, number: ph.number, title: ph.title }, impl })
    }
  }
  const unknown = Object.keys(overrides?.params ?? {}).filter((id) => !seen.has(id) && !registry.has(id))
  if (unknown.length)
    throw new UserError(
      `${overrides!.source}: no step ${unknown.map((u) => `"${u}"`).join(', ')}`,
      `use a step id of runbooks/${name}.yaml (\`autolytiq runbook show ${name}\`): ${[...seen].slice(0, 6).join(', ')}, ...`,
    )
  return { name: data.name, title: data.title, description: data.description, file, phases: data.phases.map(({ steps: _s, ...p }) => p), steps }
}

export interface Selection {
  phases?: string[]
  from?: string
  only?: string[]
}

/** --phase N|name, --from STEP, --only STEP; unknown names list the valid ones. */
export function selectSteps(rb: Runbook, sel: Selection): RunbookStep[] {
  let steps = rb.steps
  const ids = rb.steps.map((s) => s.id)
  if (sel.phases?.length) {
    const wanted = new Set<string>()
    for (const p of sel.phases) {
      for (const part of p.split(',')) {
        const range = /^(\d+)\.\.(\d+)$/.exec(part)
        const matches = rb.phases.filter((ph) =>
          range ? ph.number >= Number(range[1]) && ph.number <= Number(range[2]) : String(ph.number) === part || ph.id === part,
        )
        if (matches.length === 0)
          throw new UserError(`unknown phase "${part}"`, `phases: ${rb.phases.map((ph) => `${ph.number} (${ph.id})`).join(', ')}; ranges like 1..4 work too`)
        for (const m of matches) wanted.add(m.id)
      }
    }
    steps = steps.filter((s) => wanted.has(s.phase.id))
  }
  if (sel.from) {
    const i = steps.findIndex((s) => s.id === sel.from)
    if (i < 0) throw new UserError(`unknown step "${sel.from}" for --from`, `steps: ${ids.join(', ')}`)
    steps = steps.slice(i)
  }
  if (sel.only?.length) {
    for (const o of sel.only) if (!ids.includes(o)) throw new UserError(`unknown step "${o}" for --only`, `steps: ${ids.join(', ')}`)
    steps = steps.filter((s) => sel.only!.includes(s.id))
  }
  return steps
}

export function strongestDanger(steps: RunbookStep[]): Danger {
  if (steps.some((s) => s.impl?.danger === 'destructive')) return 'destructive'
  if (steps.some((s) => s.impl?.danger === 'mutating')) return 'mutating'
  return 'read'
}

/** Markdown for people: the runbook exactly as it runs. */
export function runbookMarkdown(rb: Runbook): string {
  const out: string[] = [`# ${rb.title}`, '', rb.description.trim(), '', `Source: \`${rb.file.split('/').slice(-2).join('/')}\``, '']
  for (const ph of rb.phases) {
    out.push(`## Phase ${ph.number}: ${ph.title}`, '')
    if (ph.source) out.push(`_Plan: ${ph.source}_`, '')
    out.push('| # | step | what it does | danger |', '|---|---|---|---|')
    rb.steps
      .filter((s) => s.phase.id === ph.id)
      .forEach((s, i) => {
        const what = s.impl ? s.impl.description : '**not implemented yet** — `deploy` stops before this step'
        out.push(`| ${ph.number}.${i + 1} | \`${s.id}\` | ${what.replace(/\|/g, '\\|')} | ${s.impl?.danger ?? '—'} |`)
      })
    out.push('')
  }
  return out.join('\n')
}
