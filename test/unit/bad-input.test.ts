import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { runCli } from '../helpers/cli.js'
import { filesSnapshot, localEnvironment, tempProject, type TempProject } from '../helpers/project.js'

/**
 * The bad-input corpus: each case breaks one input and asserts one clear message, the documented
 * exit code, no stack trace, and no change (the project's state directory is untouched).
 * Cases that need AWS or Kubernetes live in test/integration/bad-input-remote.test.ts.
 */
interface Case {
  name: string
  /** Breaks the project before the command runs. */
  arrange?: (p: TempProject) => void
  args: string[]
  env?: Record<string, string>
  code: number
  message: RegExp
  /** A failed step legitimately records its failure in the state file; nothing else may change. */
  recordsFailure?: boolean
}

const yamlOf = (p: TempProject, file: string): Record<string, unknown> => parse(readFileSync(join(p.root, file), 'utf8'))
const writeYaml = (p: TempProject, file: string, data: unknown): void => writeFileSync(join(p.root, file), stringify(data))
const editEnv = (patch: Record<string, unknown>) => (p: TempProject) => {
  const c = yamlOf(p, 'autolytiq.yaml') as { environments: Record<string, Record<string, unknown>> }
  Object.assign(c.environments.local!, patch)
  writeYaml(p, 'autolytiq.yaml', c)
}
const editCatalog = (fn: (c: { services: Record<string, unknown>[]; smoke: Record<string, unknown>[] }) => void) => (p: TempProject) => {
  const c = yamlOf(p, 'services/catalog.yaml') as { services: Record<string, unknown>[]; smoke: Record<string, unknown>[] }
  fn(c)
  writeYaml(p, 'services/catalog.yaml', c)
}
const simpleRunbook = (steps: unknown[]) => (p: TempProject) =>
  writeYaml(p, 'runbooks/go-live.yaml', { name: 'go-live', title: 't', description: 'd', phases: [{ id: 'a', number: 1, title: 'A', steps }] })
const writeState = (text: string) => (p: TempProject) => {
  mkdirSync(join(p.home, 'state'), { recursive: true })
  writeFileSync(join(p.home, 'state', 'local.json'), text)
}
const DRY = ['deploy', '--env', 'local', '--dry-run']

const CASES: Case[] = [
  // autolytiq.yaml
  {
    name: 'config: malformed YAML',
    arrange: (p) => writeFileSync(join(p.root, 'autolytiq.yaml'), 'version: 1\nenvironments: {local: [\n'),
    args: DRY,
    code: 2,
    message: /autolytiq\.yaml is not valid YAML/,
  },
  {
    name: 'config: not a mapping',
    arrange: (p) => writeFileSync(join(p.root, 'autolytiq.yaml'), '- just\n- a list\n'),
    args: DRY,
    code: 2,
    message: /autolytiq\.yaml is invalid/,
  },
  { name: 'config: empty file', arrange: (p) => writeFileSync(join(p.root, 'autolytiq.yaml'), ''), args: DRY, code: 2, message: /autolytiq\.yaml is invalid/ },
  {
    name: 'config: missing version',
    arrange: (p) => writeYaml(p, 'autolytiq.yaml', { environments: { local: localEnvironment() } }),
    args: DRY,
    code: 2,
    message: /at version: Invalid literal value, expected 1/,
  },
  {
    name: 'config: wrong type for accountId',
    arrange: editEnv({ accountId: 123456789012 }),
    args: DRY,
    code: 2,
    message: /at environments\.local\.accountId: Expected string, received number/,
  },
  {
    name: 'config: bad region',
    arrange: editEnv({ region: 'us-east' }),
    args: DRY,
    code: 2,
    message: /environments\.local\.region: an AWS region like us-east-1/,
  },
  {
    name: 'config: bad alert email',
    arrange: editEnv({ alertEmail: 'ops-at-example' }),
    args: DRY,
    code: 2,
    message: /environments\.local\.alertEmail: Invalid email/,
  },
  {
    name: 'config: bad release tag',
    arrange: editEnv({ release: '1.0' }),
    args: DRY,
    code: 2,
    message: /environments\.local\.release: a release tag like v1\.0\.0/,
  },
  {
    name: 'config: bad namespace',
    arrange: editEnv({ namespace: 'Autolytiq_Prod' }),
    args: DRY,
    code: 2,
    message: /environments\.local\.namespace: a Kubernetes namespace name/,
  },
  { name: 'config: unknown key (typo)', arrange: editEnv({ regoin: 'us-east-1' }), args: DRY, code: 2, message: /Unrecognized key\(s\) in object: 'regoin'/ },
  {
    name: 'config: unknown state backend',
    arrange: editEnv({ stateBackend: { type: 'consul' } }),
    args: DRY,
    code: 2,
    message: /environments\.local\.stateBackend\.type: Invalid discriminator value/,
  },
  { name: 'config: missing required field', arrange: editEnv({ domain: undefined }), args: DRY, code: 2, message: /environments\.local\.domain: Required/ },
  {
    name: 'config: oversized file',
    arrange: (p) => writeFileSync(join(p.root, 'autolytiq.yaml'), `# ${'x'.repeat(3 * 1024 * 1024)}\n`),
    args: DRY,
    code: 2,
    message: /larger than 2097152 bytes; refusing to read it/,
  },
  {
    name: 'config: file missing',
    arrange: (p) => rmSync(join(p.root, 'autolytiq.yaml')),
    args: DRY,
    code: 2,
    message: /cannot read config .*autolytiq\.yaml: file not found/,
  },
  {
    name: 'config: upper-case environment name',
    arrange: (p) => writeYaml(p, 'autolytiq.yaml', { version: 1, environments: { Prod: localEnvironment() } }),
    args: DRY,
    code: 2,
    message: /a lower-case environment name/,
  },
  // services/catalog.yaml
  {
    name: 'catalog: malformed YAML',
    arrange: (p) => writeFileSync(join(p.root, 'services/catalog.yaml'), 'services: [\n'),
    args: DRY,
    code: 2,
    message: /catalog\.yaml is not valid YAML/,
  },
  {
    name: 'catalog: duplicate port',
    arrange: editCatalog((c) => (c.services[1]!.port = c.services[0]!.port)),
    args: DRY,
    code: 2,
    message: /port 8080 used by both api-gateway and auth-service/,
  },
  {
    name: 'catalog: duplicate service',
    arrange: editCatalog((c) => c.services.push({ ...c.services[2]!, port: 9999 })),
    args: DRY,
    code: 2,
    message: /duplicate service deal-service/,
  },
  {
    name: 'catalog: unknown dependency',
    arrange: editCatalog((c) => (c.services[2]!.dependsOn = ['mongodb'])),
    args: DRY,
    code: 2,
    message: /services\.2\.dependsOn\.0: Invalid enum value/,
  },
  {
    name: 'catalog: Deployment without port',
    arrange: editCatalog((c) => delete c.services[2]!.port),
    args: DRY,
    code: 2,
    message: /deal-service: a Deployment needs port, healthPath and replicas/,
  },
  {
    name: 'catalog: replicas min above max',
    arrange: editCatalog((c) => (c.services[2]!.replicas = { min: 5, max: 2 })),
    args: DRY,
    code: 2,
    message: /deal-service: replicas\.min > replicas\.max/,
  },
  {
    name: 'catalog: smoke flow for unknown service',
    arrange: editCatalog((c) => (c.smoke[0]!.service = 'ghost-service')),
    args: DRY,
    code: 2,
    message: /unknown service ghost-service/,
  },
  {
    name: 'catalog: port out of range',
    arrange: editCatalog((c) => (c.services[2]!.port = 70000)),
    args: DRY,
    code: 2,
    message: /services\.2\.port: Number must be less than or equal to 65535/,
  },
  // runbooks
  {
    name: 'runbook: malformed YAML',
    arrange: (p) => writeFileSync(join(p.root, 'runbooks/go-live.yaml'), 'phases: [\n'),
    args: DRY,
    code: 2,
    message: /go-live\.yaml is not valid YAML/,
  },
  {
    name: 'runbook: unknown step parameter',
    arrange: simpleRunbook([{ uses: 'terraform.tfvars', with: { bogus: 1 } }]),
    args: DRY,
    code: 2,
    message: /parameters of step "terraform\.tfvars" \(with:\) is invalid[\s\S]*Unrecognized key\(s\) in object: 'bogus'/,
  },
  {
    name: 'runbook: wrong parameter type',
    arrange: simpleRunbook([{ uses: 'http.wait-healthy', with: { timeoutSeconds: 'soon' } }]),
    args: DRY,
    code: 2,
    message: /at timeoutSeconds: Expected number, received string/,
  },
  {
    name: 'runbook: duplicate step id',
    arrange: simpleRunbook([{ uses: 'terraform.tfvars' }, { uses: 'terraform.tfvars' }]),
    args: DRY,
    code: 2,
    message: /step id "terraform\.tfvars" appears twice/,
  },
  { name: 'runbook: invalid step id', arrange: simpleRunbook([{ uses: 'Terraform Init!' }]), args: DRY, code: 2, message: /a step id like ecr\.repositories/ },
  {
    name: 'runbook: no phases',
    arrange: (p) => writeYaml(p, 'runbooks/go-live.yaml', { name: 'go-live', title: 't', description: 'd', phases: [] }),
    args: DRY,
    code: 2,
    message: /at phases: Array must contain at least 1 element/,
  },
  { name: 'runbook: unknown runbook name', args: ['runbook', 'show', 'go-dead'], code: 2, message: /unknown runbook "go-dead"[\s\S]*available: go-live/ },
  {
    name: 'runbook: step not implemented',
    arrange: simpleRunbook([{ uses: 'quantum.teleport' }]),
    args: ['deploy', '--env', 'local', '--yes'],
    code: 2,
    message: /not implemented: quantum\.teleport/,
  },
  // state
  {
    name: 'state: corrupt JSON',
    arrange: writeState('{"schemaVersion":1,'),
    args: ['status', '--env', 'local'],
    code: 2,
    message: /is not valid JSON; it was left untouched/,
  },
  {
    name: 'state: future schema version',
    arrange: writeState('{"schemaVersion":7}'),
    args: DRY,
    code: 2,
    message: /schema version 7; this autolytiq reads version 1/,
  },
  {
    name: 'state: belongs to another environment',
    arrange: writeState(
      JSON.stringify({ schemaVersion: 1, environment: 'prod', updatedAt: 'x', runs: [], steps: {}, outputs: {}, rollbackPoints: [], checklist: {} }),
    ),
    args: DRY,
    code: 2,
    message: /belongs to environment "prod", not "local"/,
  },
  {
    name: 'state: malformed structure',
    arrange: writeState(
      JSON.stringify({ schemaVersion: 1, environment: 'local', updatedAt: 'x', runs: 'many', steps: {}, outputs: {}, rollbackPoints: [], checklist: {} }),
    ),
    args: ['status', '--env', 'local'],
    code: 2,
    message: /is malformed at runs: Expected array, received string/,
  },
  // flags and names
  { name: 'unknown environment', args: ['deploy', '--env', 'qa', '--dry-run'], code: 2, message: /unknown environment "qa"[\s\S]*use one of: local/ },
  { name: 'no environment', args: ['status'], code: 2, message: /no environment given[\s\S]*pass --env \(one of: local\) or set AUTOLYTIQ_ENV/ },
  {
    name: 'unknown --only step',
    args: ['deploy', '--env', 'local', '--only', 'ecr.repos', '--dry-run'],
    code: 2,
    message: /unknown step "ecr\.repos" for --only[\s\S]*ecr\.repositories/,
  },
  { name: 'unknown --from step', args: ['deploy', '--env', 'local', '--from', 'middle', '--dry-run'], code: 2, message: /unknown step "middle" for --from/ },
  {
    name: 'unknown --phase',
    args: ['deploy', '--env', 'local', '--phase', 'deploy-everything', '--dry-run'],
    code: 2,
    message: /unknown phase "deploy-everything"[\s\S]*1 \(prerequisites\)/,
  },
  { name: 'empty phase range', args: ['deploy', '--env', 'local', '--phase', '9..12', '--dry-run'], code: 2, message: /unknown phase "9\.\.12"/ },
  { name: 'unknown flag', args: ['status', '--env', 'local', '--verbose-please'], code: 2, message: /Nonexistent flag: --verbose-please/ },
  { name: 'flag of the wrong type', args: ['log', '--env', 'local', '--limit', 'lots'], code: 2, message: /Expected an integer but received: lots/ },
  {
    name: 'unknown command',
    args: ['deplyo', '--env', 'local'],
    code: 2,
    message: /"deplyo" is not an autolytiq command[\s\S]*did you mean `autolytiq deploy --env local`/,
  },
  {
    name: 'sandbox environment without a running sandbox',
    arrange: (p) => writeYaml(p, 'autolytiq.yaml', { version: 1, environments: { local: { ...localEnvironment(), sandbox: true } } }),
    args: DRY,
    code: 2,
    message: /the sandbox is not running[\s\S]*autolytiq sandbox up/,
  },
  // missing tools
  {
    name: 'missing tools for a deploy step',
    arrange: simpleRunbook([{ uses: 'preflight.tools' }]),
    args: ['deploy', '--env', 'local', '--yes'],
    env: { PATH: '/nonexistent' },
    code: 2,
    message: /missing or outdated tools: terraform \(terraform or tofu not found on PATH\); kubectl/,
    recordsFailure: true,
  },
]

describe('bad input corpus', () => {
  const projects = new Map<string, TempProject>()
  beforeAll(() => {
    for (const c of CASES) {
      const p = tempProject()
      c.arrange?.(p)
      projects.set(c.name, p)
    }
  })
  afterAll(() => {
    for (const p of projects.values()) p.cleanup()
  })

  it('has at least 40 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(40))

  // Each case is its own project and process: run them concurrently (vitest maxConcurrency).
  it.concurrent.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = projects.get(c.name)!
    const before = filesSnapshot(p.home)
    const env = { ...p.env, ...c.env }
    // PATH=/nonexistent would hide node itself from nothing (we run it by absolute path), but keep HOME.
    const r = await runCli(c.args, env)
    expect(r.code, `${c.args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(c.code)
    const text = r.stderr + r.stdout
    expect(text).toMatch(c.message)
    expect(text).not.toMatch(/\n\s+at .+[:(]\d+:\d+\)?/) // no stack trace
    expect(text).not.toMatch(/unexpected error/)
    const after = filesSnapshot(p.home)
    if (c.recordsFailure) {
      const { ['/state/local.json']: st, ['/state/local.audit.jsonl']: _a, ...rest } = after
      expect(rest).toEqual(before) // no work file, no lock left behind
      expect(JSON.parse(st!).steps['go-live']['preflight.tools'].status).toBe('failed')
    } else expect(after).toEqual(before) // nothing changed
  })
})
