/**
 * The secret contract (issue 14): every field an ExternalSecret of any overlay reads is one
 * terraform/modules/secrets writes, and the secret table the CLI and the sandbox share (SECRETS)
 * is exactly what the module writes. The module is applied for real (hashicorp/aws against moto)
 * and read back through the SDK; the overlays are built with kustomize as `k8s.deploy` builds them.
 * Mutations of copies prove each half can fail.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { parseManifests } from '../../src/k8s/objects.js'
import { externalSecretsOf, remoteReads, templateInputs, type ExternalSecretObject } from '../../src/k8s/external-secrets.js'
import { SECRETS, secretFields } from '../../src/steps/aws/secrets.js'
import { sandboxSecrets } from '../helpers/seed-aws.js'
import { REPO } from '../helpers/cli.js'
import { applySecretsModule, type WrittenSecrets } from '../helpers/terraform-secrets.js'

const aws = inject('aws')
const OVERLAYS = ['staging', 'prod', 'sandbox']
const MODULE = join(REPO, 'terraform', 'modules', 'secrets')

async function renderedExternalSecrets(k8sDir: string, overlay: string): Promise<ExternalSecretObject[]> {
  const r = await execa('kubectl', ['kustomize', join(k8sDir, 'overlays', overlay)])
  return externalSecretsOf(parseManifests(r.stdout, `kubectl kustomize overlays/${overlay}`))
}

/**
 * Every violation of the contract, one line each: a remote key outside autolytiq/<env>/<secret>,
 * a field the module does not write, a template field no `data` entry provides.
 */
function violations(env: string, ess: ExternalSecretObject[], written: Record<string, string[]>): string[] {
  const out: string[] = []
  for (const es of ess) {
    for (const r of remoteReads(es)) {
      const m = /^autolytiq\/([^/]+)\/(.+)$/.exec(r.remoteKey)
      if (!m || m[1] !== env) {
        out.push(`${es.metadata.name} reads ${r.remoteKey}, not a secret of environment ${env}`)
        continue
      }
      const fields = written[m[2]!]
      if (!fields) out.push(`${es.metadata.name} reads ${r.remoteKey}, which terraform does not create`)
      else if (r.property && !fields.includes(r.property))
        out.push(`${es.metadata.name} reads ${r.remoteKey} property ${r.property}, which terraform does not write (it writes ${fields.join(', ')})`)
    }
    const provided = new Set((es.spec.data ?? []).map((d) => d.secretKey))
    for (const [key, tpl] of Object.entries(es.spec.target?.template?.data ?? {}))
      for (const input of templateInputs(tpl))
        if (!provided.has(input)) out.push(`${es.metadata.name} template ${key} uses .${input}, which no data entry reads`)
  }
  return out
}

const sorted = (o: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, [...o[k]!].sort()]),
  )
const contractFields = (): Record<string, string[]> => sorted(Object.fromEntries(Object.keys(SECRETS).map((n) => [n, secretFields(n)])))

describe.skipIf(!aws)('the secret contract: terraform/modules/secrets, SECRETS, the sandbox seed and every overlay’s ExternalSecrets', () => {
  let written: WrittenSecrets
  const tmp: string[] = []

  beforeAll(async () => {
    written = await applySecretsModule(MODULE, aws!.endpoint)
  }, 300_000)
  afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })))

  it('SECRETS (read by secrets.expected and the sandbox seed) is exactly what the module writes', () => {
    expect(sorted(written.fields)).toEqual(contractFields())
  })

  it('the sandbox seeds every secret with exactly those fields (no url)', () => {
    const seeded = sandboxSecrets({
      aws: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } },
      envName: 'sandbox',
      clusterName: 'autolytiq-sandbox',
      postgres: { host: '127.0.0.1', port: 5432, user: 'u', password: 'p', database: 'd' },
      redis: { host: '127.0.0.1', port: 6379, password: 'r' },
      jwtSecret: 'j',
    } as Parameters<typeof sandboxSecrets>[0])
    expect(sorted(Object.fromEntries(Object.entries(seeded).map(([k, v]) => [k, Object.keys(v)])))).toEqual(sorted(written.fields))
  })

  it.each(OVERLAYS)('overlay %s: every field its ExternalSecrets read is written by terraform', async (overlay) => {
    const ess = await renderedExternalSecrets(join(REPO, 'k8s'), overlay)
    expect(ess.map((e) => e.metadata.name).sort()).toEqual(['autolytiq-secrets', 'autolytiq-smtp'])
    expect(violations(overlay, ess, written.fields)).toEqual([])
  })

  it('mutation: an ExternalSecret that reads `url` (the old manifest) fails the contract, naming secret and field', async () => {
    const k8s = mkdtempSync(join(tmpdir(), 'autolytiq-contract-k8s-'))
    tmp.push(k8s)
    cpSync(join(REPO, 'k8s'), k8s, { recursive: true })
    const file = join(k8s, 'external-secrets', 'external-secret.yaml')
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('{ key: autolytiq/ENVIRONMENT/database, property: host }', '{ key: autolytiq/ENVIRONMENT/database, property: url }'),
    )
    const ess = await renderedExternalSecrets(k8s, 'prod')
    expect(violations('prod', ess, written.fields)).toEqual([
      'autolytiq-secrets reads autolytiq/prod/database property url, which terraform does not write (it writes dbname, engine, host, password, port, username)',
    ])
  })

  it('mutation: a field an ExternalSecret reads, removed from the terraform module (a copy), fails the contract', async () => {
    const mod = mkdtempSync(join(tmpdir(), 'autolytiq-contract-tf-'))
    tmp.push(mod)
    cpSync(MODULE, mod, { recursive: true })
    // REDIS_URL's scheme comes from redis.tls: drop the line that writes it (outside the variable declarations)
    let removed = 0
    for (const f of readdirSync(mod).filter((n) => n.endsWith('.tf') && n !== 'variables.tf')) {
      const text = readFileSync(join(mod, f), 'utf8')
      const next = text.replace(/^\s*tls\s*=.*\n/m, () => (removed++, ''))
      writeFileSync(join(mod, f), next)
    }
    expect(removed, 'the module writes redis.tls on one line').toBe(1)
    const mutated = await applySecretsModule(mod, aws!.endpoint)
    expect(mutated.fields.redis).not.toContain('tls')
    const ess = await renderedExternalSecrets(join(REPO, 'k8s'), 'staging')
    expect(violations('staging', ess, mutated.fields)).toEqual([
      'autolytiq-secrets reads autolytiq/staging/redis property tls, which terraform does not write (it writes auth_token, host, port)',
    ])
    expect(sorted(mutated.fields)).not.toEqual(contractFields())
  }, 300_000)
})
