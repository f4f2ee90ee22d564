import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig, resolveEnvironmentName } from '../../src/config/environments.js'
import { UserError } from '../../src/engine/errors.js'
import { REPO } from '../helpers/cli.js'
import { localEnvironment, tempProject, type TempProject } from '../helpers/project.js'

describe('service catalog', () => {
  const catalog = loadCatalog(REPO)

  it('holds the twelve services of the plan, reconciled', () => {
    expect(catalog.names).toHaveLength(12)
    expect(catalog.deployments).toHaveLength(11)
    expect(catalog.get('data-retention-service').kind).toBe('CronJob')
    expect(catalog.get('data-retention-service').port).toBeUndefined()
    // Appendix C of the plan: every port, once
    const ports = Object.fromEntries(catalog.deployments.map((s) => [s.name, s.port]))
    expect(ports).toMatchObject({ 'api-gateway': 8080, 'deal-service': 8081, 'auth-service': 8087, 'settings-service': 8090 })
    expect(new Set(Object.values(ports)).size).toBe(11)
    for (const s of catalog.services) expect(s.ecrRepository).toBe(`autolytiq/${s.name}`)
  })

  it('carries the plan smoke checklist in order', () => {
    expect(catalog.smoke.map((f) => f.id)).toEqual([
      'user-registration',
      'user-login',
      'deal-listing',
      'deal-creation',
      'tax-calculation',
      'customer-search',
      'inventory-search',
      'email-send',
    ])
  })

  it('names the valid services when given an unknown one', () => {
    expect(() => catalog.get('deals')).toThrow(UserError)
    expect(() => catalog.get('deals')).toThrow(/unknown service "deals"/)
    try {
      catalog.select(['deal-service', 'nope'])
    } catch (e) {
      expect((e as UserError).next).toMatch(/api-gateway, auth-service, deal-service/)
    }
  })

  it('builds image references from registry and tag', () => {
    expect(catalog.image('deal-service', '1.dkr.ecr.us-east-1.amazonaws.com', 'v1.2.3')).toBe('1.dkr.ecr.us-east-1.amazonaws.com/autolytiq/deal-service:v1.2.3')
  })
})

describe('environment config', () => {
  let p: TempProject | undefined
  afterEach(() => p?.cleanup())

  it('loads the shipped config with sandbox, staging and prod', () => {
    const c = loadConfig(REPO)
    expect(Object.keys(c.environments)).toEqual(['sandbox', 'staging', 'prod'])
    expect(c.environments.prod!.production).toBe(true)
    expect(c.environments.sandbox!.production).toBe(false)
  })

  it('never implies an environment, not even prod', () => {
    const c = loadConfig(REPO)
    const saved = process.env.AUTOLYTIQ_ENV
    delete process.env.AUTOLYTIQ_ENV
    try {
      expect(() => resolveEnvironmentName(undefined, c)).toThrow(/no environment given/)
      process.env.AUTOLYTIQ_ENV = 'prod'
      expect(resolveEnvironmentName(undefined, c)).toBe('prod')
      expect(resolveEnvironmentName('staging', c)).toBe('staging')
    } finally {
      if (saved === undefined) delete process.env.AUTOLYTIQ_ENV
      else process.env.AUTOLYTIQ_ENV = saved
    }
  })

  it('names the file, the path and the expectation on bad values', () => {
    p = tempProject({ environments: { local: localEnvironment({ accountId: '12', region: 'mars-1' }) } })
    expect(() => loadConfig(p!.root)).toThrow(
      /config .*autolytiq\.yaml is invalid:\n {2}at environments\.local\.region: an AWS region like us-east-1\n {2}at environments\.local\.accountId: a 12-digit AWS account id/,
    )
  })

  it('sandboxSecrets (stand-in third-party values) only in a sandbox environment', () => {
    const values = { resend: { api_key: 're_sandbox' } }
    p = tempProject({ environments: { local: localEnvironment({ sandboxSecrets: values }) } })
    expect(() => loadConfig(p!.root)).toThrow(/at environments\.local\.sandboxSecrets: sandboxSecrets is for sandbox environments only \(sandbox: true\)/)
    p.cleanup()
    p = tempProject({ environments: { local: localEnvironment({ sandbox: true, sandboxSecrets: values }) } })
    expect(loadConfig(p.root).environments.local!.sandboxSecrets).toEqual(values)
  })

  it('rejects unknown keys (typos) and malformed YAML with a line number', () => {
    p = tempProject({ environments: { local: localEnvironment({ regoin: 'us-east-1' }) } })
    expect(() => loadConfig(p!.root)).toThrow(/Unrecognized key\(s\) in object: 'regoin'/)
    writeFileSync(join(p.root, 'autolytiq.yaml'), 'version: 1\nenvironments:\n  local: [unclosed\n')
    expect(() => loadConfig(p!.root)).toThrow(/is not valid YAML/)
  })
})
