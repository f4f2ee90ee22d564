/**
 * What terraform/modules/secrets really writes: the module applied with the real hashicorp/aws
 * provider (the machine's filesystem mirror) against moto, and every secret it created read back
 * through the AWS SDK. Nothing is parsed out of the HCL, so the answer stays right however the
 * module computes its values (random passwords, ephemeral resources, write-only arguments).
 *
 * The module's inputs are made from its own variable declarations (a value of each declared type),
 * so a changed variable list needs no change here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parse } from '@cdktf/hcl2json'
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { execa } from 'execa'
import { freshAccount } from '../integration/aws-project.js'

/** The directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/ (AUTOLYTIQ_TF_PLUGIN_MIRROR, else the usual places). */
export function providerMirror(): string | undefined {
  const candidates = [
    process.env.AUTOLYTIQ_TF_PLUGIN_MIRROR,
    '/opt/tf-plugins',
    join(process.env.HOME ?? '', '.terraform.d', 'plugins'),
    '/usr/local/share/terraform/plugins',
    '/usr/share/terraform/plugins',
  ]
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'registry.terraform.io', 'hashicorp', 'aws')))
}

/** A value of an HCL type expression (`string`, `number`, `bool`, `object({...})`, `list(string)`, ...). */
function sampleOf(type: string, name: string): unknown {
  const t = type.replace(/^\$\{|\}$/g, '').trim()
  if (t.startsWith('object(')) {
    const body = t.slice(t.indexOf('{') + 1, t.lastIndexOf('}'))
    return Object.fromEntries([...body.matchAll(/([A-Za-z_][\w-]*)\s*=\s*([a-z]+(?:\([^)]*\))?)/g)].map((m) => [m[1], sampleOf(m[2]!, m[1]!)]))
  }
  if (t.startsWith('list(') || t.startsWith('set(')) return [sampleOf(t.slice(t.indexOf('(') + 1, -1), name)]
  if (t.startsWith('map(')) return { a: sampleOf(t.slice(4, -1), name) }
  if (t === 'number') return 5432
  if (t === 'bool') return true
  return `contract-${name}-${randomBytes(4).toString('hex')}`
}

async function moduleInputs(moduleDir: string, environment: string): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {}
  for (const f of readdirSync(moduleDir).filter((n) => n.endsWith('.tf'))) {
    const json = (await parse(f, readFileSync(join(moduleDir, f), 'utf8'))) as { variable?: Record<string, { type?: string; default?: unknown }[]> }
    for (const [name, [decl]] of Object.entries(json.variable ?? {})) {
      if (decl && 'default' in decl) continue
      inputs[name] = name === 'environment' ? environment : sampleOf(decl?.type ?? 'string', name)
    }
  }
  return inputs
}

export interface WrittenSecrets {
  environment: string
  /** secret name (the part after autolytiq/<env>/) -> the JSON fields its value holds */
  fields: Record<string, string[]>
}

/**
 * Applies `moduleDir` in a fresh moto account and returns the fields of every secret it wrote.
 * Throws with terraform's own message when init or apply fails.
 */
export async function applySecretsModule(moduleDir: string, motoEndpoint: string): Promise<WrittenSecrets> {
  const mirror = providerMirror()
  if (!mirror) throw new Error('no hashicorp/aws provider mirror on this machine (set AUTOLYTIQ_TF_PLUGIN_MIRROR)')
  const account = await freshAccount(motoEndpoint)
  const environment = `contract${randomBytes(3).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'autolytiq-secret-contract-'))
  try {
    // Only the mirror: a provider the mirror lacks (hashicorp/random here) fails init, visibly.
    writeFileSync(join(dir, 'cli.tfrc'), `provider_installation {\n  filesystem_mirror {\n    path = "${mirror}"\n  }\n}\n`)
    const services = ['secretsmanager', 'kms', 'sts', 'iam']
    const root = {
      terraform: { required_providers: { aws: { source: 'hashicorp/aws' } } },
      provider: {
        aws: {
          region: 'us-east-1',
          access_key: account.accessKeyId,
          secret_key: account.secretAccessKey,
          skip_credentials_validation: true,
          skip_requesting_account_id: true,
          skip_metadata_api_check: true,
          endpoints: [Object.fromEntries(services.map((s) => [s, motoEndpoint]))],
        },
      },
      module: { secrets: { source: moduleDir, ...(await moduleInputs(moduleDir, environment)) } },
    }
    writeFileSync(join(dir, 'main.tf.json'), JSON.stringify(root, null, 2), { mode: 0o600 })
    const env = { TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_PLUGIN_CACHE_DIR: '' }
    for (const args of [
      ['init', '-input=false', '-no-color'],
      ['apply', '-input=false', '-no-color', '-auto-approve'],
    ]) {
      const r = await execa('terraform', args, { cwd: dir, env, reject: false, timeout: 240_000 })
      if (r.exitCode !== 0) throw new Error(`terraform ${args[0]} of ${moduleDir} failed:\n${(r.stderr || r.stdout).slice(-3000)}`)
    }
    const sm = new SecretsManagerClient({
      endpoint: motoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    })
    try {
      const prefix = `autolytiq/${environment}/`
      const list = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 100 }))
      const fields: Record<string, string[]> = {}
      for (const s of list.SecretList ?? []) {
        const value = await sm.send(new GetSecretValueCommand({ SecretId: s.ARN }))
        fields[s.Name!.slice(prefix.length)] = Object.keys(JSON.parse(value.SecretString ?? '{}') as object).sort()
      }
      return { environment, fields }
    } finally {
      sm.destroy()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
