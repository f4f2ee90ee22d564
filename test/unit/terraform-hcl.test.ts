import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parse } from '@cdktf/hcl2json'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/environments.js'
import { loadCatalog } from '../../src/config/catalog.js'
import { renderTfvars } from '../../src/steps/terraform/tfvars.js'
import { REQUIRED_OUTPUTS } from '../../src/steps/terraform/outputs.js'
import { PLACEHOLDER, SECRETS } from '../../src/steps/aws/secrets.js'
import type { Context } from '../../src/engine/types.js'

// The fast layer of the Terraform checks: it parses every file and checks the contract with the CLI
// (the variables it writes, the outputs it reads) and what validate would (every module call, `var.`
// and `module.` reference resolves), without a provider. test/integration/terraform-real.test.ts
// runs the real provider: init, validate and plan of staging and prod against moto.
const REPO = resolve(import.meta.dirname, '..', '..')
const TF = join(REPO, 'terraform')
const ENVIRONMENTS = ['staging', 'prod', 'sandbox-platform']

type Hcl = Record<string, Record<string, unknown[]> | unknown[]>

interface Dir {
  path: string
  text: string
  variables: Map<string, { default?: unknown }>
  outputs: Set<string>
  modules: Map<string, Record<string, unknown>>
  json: Hcl[]
}

const cache = new Map<string, Promise<Dir>>()

function loadDir(path: string): Promise<Dir> {
  let p = cache.get(path)
  if (!p) {
    p = (async () => {
      const files = readdirSync(path).filter((f) => f.endsWith('.tf'))
      const json = await Promise.all(files.map((f) => parse(f, readFileSync(join(path, f), 'utf8')) as Promise<Hcl>))
      const dir: Dir = {
        path,
        text: files.map((f) => readFileSync(join(path, f), 'utf8')).join('\n'),
        variables: new Map(),
        outputs: new Set(),
        modules: new Map(),
        json,
      }
      for (const j of json) {
        for (const [name, blocks] of Object.entries((j.variable ?? {}) as Record<string, { default?: unknown }[]>)) dir.variables.set(name, blocks[0]!)
        for (const name of Object.keys(j.output ?? {})) dir.outputs.add(name)
        for (const [name, blocks] of Object.entries((j.module ?? {}) as Record<string, Record<string, unknown>[]>)) dir.modules.set(name, blocks[0]!)
      }
      return dir
    })()
    cache.set(path, p)
  }
  return p
}

function allDirs(): string[] {
  const modules = readdirSync(join(TF, 'modules')).map((m) => join(TF, 'modules', m))
  return [...ENVIRONMENTS.map((e) => join(TF, 'environments', e)), ...modules].filter((d) => statSync(d).isDirectory())
}

/** The tfvars the CLI writes for every environment of autolytiq.yaml, by terraform directory. */
function cliVariables(): Map<string, Set<string>> {
  const config = loadConfig(REPO)
  const catalog = loadCatalog(REPO)
  const byDir = new Map<string, Set<string>>()
  for (const [envName, env] of Object.entries(config.environments)) {
    const vars = JSON.parse(renderTfvars({ env, envName, catalog } as unknown as Context)) as Record<string, unknown>
    const dir = resolve(REPO, env.terraformDir)
    byDir.set(dir, new Set([...(byDir.get(dir) ?? []), ...Object.keys(vars)]))
  }
  return byDir
}

const META_ARGS = new Set(['source', 'providers', 'count', 'for_each', 'depends_on', 'version'])

describe('terraform/ as the CLI reads it', () => {
  it.each(ENVIRONMENTS)('environments/%s declares every variable the CLI writes into terraform.tfvars.json', async (name) => {
    const dir = await loadDir(join(TF, 'environments', name))
    // Any environment's keys, not only those of the environments pointing here: autolytiq.yaml may
    // point any environment at any directory.
    const all = new Set([...cliVariables().values()].flatMap((s) => [...s]))
    expect(all.size).toBeGreaterThan(8)
    const missing = [...all].filter((v) => !dir.variables.has(v))
    expect(missing, `variables missing in ${name}`).toEqual([])
  })

  it.each(ENVIRONMENTS)('environments/%s defines every output the CLI reads', async (name) => {
    const dir = await loadDir(join(TF, 'environments', name))
    expect(REQUIRED_OUTPUTS.filter((o) => !dir.outputs.has(o))).toEqual([])
  })

  it.each(ENVIRONMENTS)('environments/%s has a partial S3 backend that terraform.init completes', async (name) => {
    const dir = await loadDir(join(TF, 'environments', name))
    const backends = dir.json.flatMap((j) => ((j.terraform ?? []) as { backend?: Record<string, unknown> }[]).map((t) => t.backend)).filter(Boolean)
    expect(backends).toEqual([{ s3: [{}] }])
  })

  it('staging and prod declare the same variables and outputs', async () => {
    const [staging, prod] = await Promise.all([loadDir(join(TF, 'environments', 'staging')), loadDir(join(TF, 'environments', 'prod'))])
    expect([...staging.variables.keys()].sort()).toEqual([...prod.variables.keys()].sort())
    expect([...staging.outputs].sort()).toEqual([...prod.outputs].sort())
  })

  it("every terraformDir of autolytiq.yaml is one of these roots; the sandbox's calls the platform module as staging and prod do, switching off only moto gaps", async () => {
    const config = loadConfig(REPO)
    for (const env of Object.values(config.environments)) expect(ENVIRONMENTS.map((e) => `terraform/environments/${e}`)).toContain(env.terraformDir)
    const sandbox = await loadDir(resolve(REPO, config.environments.sandbox!.terraformDir))
    const staging = await loadDir(join(TF, 'environments', 'staging'))
    expect(sandbox.modules.get('platform')?.source).toBe('../../modules/platform')
    expect(staging.modules.get('platform')?.source).toBe('../../modules/platform')
    // Nothing but the platform module (and the data source of the ElastiCache group `sandbox up` makes).
    expect(sandbox.json.flatMap((j) => Object.keys(j.resource ?? {}))).toEqual([])
    expect([...sandbox.modules.keys()]).toEqual(['platform'])
    // One switch per moto gap, each off in the sandbox only (README "Terraform in the sandbox").
    const gaps = ['backup_selection', 'eks_addons', 'eks_cluster_ingress', 'rds_performance_insights', 'redis_replication_group_managed']
    for (const g of gaps) {
      expect(sandbox.modules.get('platform')?.[g], g).toBe(false)
      expect(staging.modules.get('platform')?.[g], g).toBeUndefined()
    }
  })

  it.each(allDirs().map((d) => [d.slice(TF.length + 1), d]))('%s: needs no provider but hashicorp/aws', async (_label, path) => {
    // hashicorp/random and hashicorp/tls cannot be installed where only the aws mirror exists, and
    // random_* would put generated secrets into state: the modules use AWS's own generator instead.
    const dir = await loadDir(path)
    const required = dir.json.flatMap((j) =>
      ((j.terraform ?? []) as { required_providers?: Record<string, { source?: string }>[] }[]).flatMap((t) => t.required_providers ?? []),
    )
    const sources = required.flatMap((r) => Object.values(r).map((p) => p.source))
    expect(sources.filter((s) => s !== 'hashicorp/aws')).toEqual([])
    const kinds = dir.json.flatMap((j) => [...Object.keys(j.resource ?? {}), ...Object.keys(j.data ?? {}), ...Object.keys(j.ephemeral ?? {})])
    expect(kinds.filter((k) => !k.startsWith('aws_') && k !== 'terraform_data')).toEqual([])
  })

  it.each(allDirs().map((d) => [d.slice(TF.length + 1), d]))('%s: every var.X is declared', async (_label, path) => {
    const dir = await loadDir(path)
    const used = new Set([...dir.text.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!))
    expect([...used].filter((v) => !dir.variables.has(v))).toEqual([])
  })

  it.each(allDirs().map((d) => [d.slice(TF.length + 1), d]))('%s: module calls pass declared inputs and use existing outputs', async (_label, path) => {
    const dir = await loadDir(path)
    for (const [name, call] of dir.modules) {
      const target = await loadDir(resolve(path, String(call.source)))
      const passed = Object.keys(call).filter((k) => !META_ARGS.has(k))
      expect(
        passed.filter((k) => !target.variables.has(k)),
        `module ${name}: unknown inputs`,
      ).toEqual([])
      const required = [...target.variables].filter(([, v]) => !('default' in v)).map(([k]) => k)
      expect(
        required.filter((k) => !passed.includes(k)),
        `module ${name}: required inputs not passed`,
      ).toEqual([])
      // module.X.module.Y.… is a resource address (import blocks), not an output of X
      const outputsUsed = new Set([...dir.text.matchAll(new RegExp(`\\bmodule\\.${name}\\.(?!module\\.)([a-z_][a-z0-9_]*)`, 'g'))].map((m) => m[1]!))
      expect(
        [...outputsUsed].filter((o) => !target.outputs.has(o)),
        `module ${name} (${basename(target.path)}): unknown outputs`,
      ).toEqual([])
    }
  })

  it('the secrets module creates the eight secrets of secrets.expected, with its placeholder marker', async () => {
    const dir = await loadDir(join(TF, 'modules', 'secrets'))
    const locals = dir.json.flatMap((j) => (j.locals ?? []) as Record<string, unknown>[])[0]!
    const bySource = (s: string): string[] => Object.keys(SECRETS).filter((n) => SECRETS[n]!.source === s)
    expect(locals.generated).toEqual(bySource('generated'))
    expect(locals.placeholders).toEqual(bySource('provided'))
    for (const name of bySource('provided')) {
      const value = String((locals.placeholder_values as Record<string, string>)[name])
      for (const field of SECRETS[name]!.required) expect(value, `${name}.${field}`).toMatch(new RegExp(`${field}\\s*=\\s*"(${PLACEHOLDER}|\\d+)"`))
    }
  })
})
