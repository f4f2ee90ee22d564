import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { REPO } from './cli.js'

export interface TempProject {
  root: string
  home: string
  env: Record<string, string>
  cleanup(): void
}

/** An environment that touches nothing outside this machine (used by engine tests). */
export function localEnvironment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    description: 'engine tests',
    region: 'us-east-1',
    accountId: '123456789012',
    domain: 'local.autolytiq.test',
    apiDomain: 'api.local.autolytiq.test',
    eksCluster: 'autolytiq-local',
    namespace: 'autolytiq-local',
    terraformDir: 'terraform/environments/sandbox-platform',
    kustomizeOverlay: 'k8s/overlays/sandbox',
    drRegion: 'us-west-2',
    alertEmail: 'ops@local.autolytiq.test',
    release: 'v1.0.0',
    terraformState: { bucket: 'local-tf-state', lockTable: 'local-tf-lock' },
    ...overrides,
  }
}

/**
 * A throw-away project root: its own autolytiq.yaml and runbooks, the real service catalog, and a
 * separate AUTOLYTIQ_HOME, so each test has its own state, lock and audit log.
 */
export function tempProject(opts: { environments?: Record<string, unknown>; runbooks?: Record<string, unknown>; copyRunbooks?: boolean } = {}): TempProject {
  const root = mkdtempSync(join(tmpdir(), 'autolytiq-project-'))
  const home = join(root, '.autolytiq')
  writeFileSync(join(root, 'autolytiq.yaml'), stringify({ version: 1, environments: opts.environments ?? { local: localEnvironment() } }))
  cpSync(join(REPO, 'services'), join(root, 'services'), { recursive: true })
  mkdirSync(join(root, 'runbooks'))
  if (opts.copyRunbooks !== false) cpSync(join(REPO, 'runbooks'), join(root, 'runbooks'), { recursive: true })
  for (const [name, rb] of Object.entries(opts.runbooks ?? {})) writeFileSync(join(root, 'runbooks', `${name}.yaml`), stringify(rb))
  return { root, home, env: { AUTOLYTIQ_ROOT: root, AUTOLYTIQ_HOME: home }, cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

/**
 * A state file holding what earlier steps recorded (their outputs), for tests that start a
 * command in the middle of an environment's life, e.g. verify after k8s.ingress-address.
 */
export function seedOutputs(p: TempProject, envName: string, outputs: Record<string, Record<string, unknown>>): void {
  mkdirSync(join(p.home, 'state'), { recursive: true })
  const state = { schemaVersion: 1, environment: envName, updatedAt: new Date().toISOString(), runs: [], steps: {}, outputs, rollbackPoints: [], checklist: {} }
  writeFileSync(join(p.home, 'state', `${envName}.json`), JSON.stringify(state))
}

/** File names (relative) and contents under a folder, e.g. AUTOLYTIQ_HOME: "nothing changed" is equality of two of these. */
export function filesSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(dir)) return out
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[p.slice(dir.length)] = readFileSync(p, 'utf8')
    }
  }
  walk(dir)
  return out
}
