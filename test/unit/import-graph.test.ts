import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { REPO } from '../helpers/cli.js'

/**
 * The import graph of src/ (README "Architecture"): no module imports itself through others (an
 * import cycle), and the engine never reaches up into the layers that use it.
 *
 * The layering, top to bottom. A layer may import from the layers below it, never from above:
 *   1. entry   commands/, cli/, completion/  oclif commands: parse flags, call one function,
 *                                            render the result, tell the team (notify)
 *   2. output  notify/, render/              results turned into text, Markdown, Slack messages
 *   3. work    rollback/, sandbox/           the rollback fast path and the local sandbox, built
 *                                            on the engine
 *   4. engine  engine/ with what it drives:  runner, state, locks, audit, context, and the steps,
 *              steps/, checks/, k8s/, …      checks and clients it runs; it returns data
 * Type-only imports count too: a type cycle is still a circle between modules.
 */
const ABOVE_ENGINE = ['commands', 'cli', 'completion', 'notify', 'render', 'rollback', 'sandbox']
/** Only the entry layer imports the entry layer (oclif loads commands and hooks by path). */
const ENTRY = ['commands', 'cli', 'completion']

type Graph = Map<string, string[]>

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sourceFiles(p))
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Every relative import, export-from and dynamic import() of each file, as paths relative to src/. */
function importGraph(srcDir: string): { graph: Graph; unresolved: string[] } {
  const graph: Graph = new Map()
  const unresolved: string[] = []
  for (const file of sourceFiles(srcDir)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    const deps: string[] = []
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue
      const base = resolve(dirname(file), fileName).replace(/\.js$/, '')
      const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p))
      if (target) deps.push(relative(srcDir, target))
      else unresolved.push(`${relative(srcDir, file)} imports ${fileName}`)
    }
    graph.set(relative(srcDir, file), [...new Set(deps)])
  }
  return { graph, unresolved }
}

/** Each import cycle once, as the path that closes it (Tarjan's strongly connected components, then a path inside each). */
function importCycles(graph: Graph): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component)
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return components.map((c) => cyclePath(graph, new Set(c)))
}

/** A path from the component's first member back to itself, staying inside the component. */
function cyclePath(graph: Graph, members: Set<string>): string[] {
  const start = [...members].sort()[0]!
  const from = new Map<string, string>()
  const queue = [start]
  while (queue.length) {
    const v = queue.shift()!
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let u: string | undefined = v; u !== undefined && u !== start; u = from.get(u)) path.splice(1, 0, u)
        return [...path, start]
      }
      if (!from.has(w)) {
        from.set(w, v)
        queue.push(w)
      }
    }
  }
  return [...members]
}

const area = (file: string): string => file.split('/')[0]!.replace(/\.ts$/, '')

/** Imports that go against the layering above, as "from -> to". */
function layerViolations(graph: Graph): string[] {
  const out: string[] = []
  for (const [from, deps] of graph)
    for (const to of deps) {
      if (area(from) === 'engine' && ABOVE_ENGINE.includes(area(to))) out.push(`${from} -> ${to}`)
      if (ENTRY.includes(area(to)) && !ENTRY.includes(area(from))) out.push(`${from} -> ${to}`)
    }
  return out.sort()
}

describe('the import graph of src/', () => {
  const { graph, unresolved } = importGraph(join(REPO, 'src'))

  it('is read from every source file, and every relative import resolves to one', () => {
    expect(unresolved).toEqual([])
    expect(graph.size).toBeGreaterThan(100)
    expect(graph.get('commands/deploy.ts')).toContain('engine/deploy.ts')
  })

  it('has no import cycle', () => {
    expect(importCycles(graph).map((c) => c.join(' -> '))).toEqual([])
  })

  it('keeps the engine below the commands, output and work layers, and the entry layer on top', () => {
    expect(layerViolations(graph)).toEqual([])
  })

  it('would catch a cycle and an upward import (the same functions on a small graph)', () => {
    const bad: Graph = new Map([
      ['engine/checklist.ts', ['notify/index.ts', 'engine/types.ts']],
      ['notify/index.ts', ['notify/summaries.ts']],
      ['notify/summaries.ts', ['rollback/service.ts']],
      ['rollback/service.ts', ['notify/index.ts', 'engine/types.ts']],
      ['engine/types.ts', []],
      ['steps/x.ts', ['commands/deploy.ts']],
      ['commands/deploy.ts', ['engine/checklist.ts']],
    ])
    expect(importCycles(bad)).toEqual([['notify/index.ts', 'notify/summaries.ts', 'rollback/service.ts', 'notify/index.ts']])
    expect(layerViolations(bad)).toEqual(['engine/checklist.ts -> notify/index.ts', 'steps/x.ts -> commands/deploy.ts'])
  })
})
