import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig } from '../../src/config/environments.js'
import type { Context } from '../../src/engine/types.js'
import { renderTfvars } from '../../src/steps/terraform/tfvars.js'
import { awsEnvFor } from '../harness/moto.js'
import { backendConfigArgs, createStateBackend, terraformBinary } from '../harness/terraform.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'

// The production roots (staging, prod) with the real hashicorp/aws provider: installed the way the
// project's setup installs it (scripts/terraform-cli-config.sh: the machine's filesystem mirror when
// there is one, else the registry), then `terraform validate` and `terraform plan` against moto,
// with the variables the CLI writes for each environment from autolytiq.yaml.
const aws = inject('aws')
const REPO = resolve(import.meta.dirname, '..', '..')
const SCRIPT = join(REPO, 'scripts', 'terraform-cli-config.sh')

interface Change {
  address: string
  type: string
  change: { actions: string[]; after: Record<string, unknown> | null; after_unknown?: Record<string, unknown> }
}
interface PlanJson {
  resource_changes: Change[]
}

/** The CLI configuration the project's setup writes, here into a temp file of the test's own. */
async function cliConfig(dir: string): Promise<string> {
  const path = join(dir, 'terraformrc')
  await execa('bash', [SCRIPT], { env: { TF_CLI_CONFIG_FILE: path } })
  return path
}

describe('scripts/terraform-cli-config.sh', () => {
  let dir: string
  beforeAll(() => {
    dir = makeTempDir('tf-cli-config')
  })
  afterAll(() => removeTempDir(dir))

  it('writes a filesystem_mirror for the providers of an explicit mirror, direct for the rest', async () => {
    const mirror = join(dir, 'mirror')
    const pkg = join(mirror, 'registry.terraform.io', 'hashicorp', 'aws', '5.100.0', 'linux_amd64')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(join(pkg, 'terraform-provider-aws_v5.100.0_x5'), '')
    const target = join(dir, 'rc-mirror')
    await execa('bash', [SCRIPT], { env: { TF_CLI_CONFIG_FILE: target, AUTOLYTIQ_TF_PLUGIN_MIRROR: mirror } })
    const text = readFileSync(target, 'utf8')
    expect(text).toContain(`path    = "${mirror}"`)
    expect(text).toMatch(/include = \["registry\.terraform\.io\/hashicorp\/aws"\]/)
    expect(text).toMatch(/direct \{\s+exclude = \["registry\.terraform\.io\/hashicorp\/aws"\]/)
  })

  it('never overwrites an existing CLI configuration', async () => {
    const target = join(dir, 'rc-existing')
    writeFileSync(target, 'plugin_cache_dir = "/somewhere"\n')
    const r = await execa('bash', [SCRIPT], { env: { TF_CLI_CONFIG_FILE: target } })
    expect(readFileSync(target, 'utf8')).toBe('plugin_cache_dir = "/somewhere"\n')
    expect(r.stderr).toContain('left alone')
  })

  it('refuses an explicit mirror that holds no provider, naming it', async () => {
    const empty = join(dir, 'empty-mirror')
    mkdirSync(empty)
    const target = join(dir, 'rc-empty')
    const r = await execa('bash', [SCRIPT], { env: { TF_CLI_CONFIG_FILE: target, AUTOLYTIQ_TF_PLUGIN_MIRROR: empty }, reject: false })
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain(`AUTOLYTIQ_TF_PLUGIN_MIRROR=${empty} holds no provider`)
    expect(existsSync(target)).toBe(false)
  })
})

describe.skipIf(!aws).concurrent('staging and prod roots with the real AWS provider, planned against moto', () => {
  let root: string
  let rc: string
  beforeAll(async () => {
    root = makeTempDir('tf-real')
    rc = await cliConfig(root)
  })
  afterAll(() => removeTempDir(root))

  it.each(['staging', 'prod'])('%s: init, validate and plan succeed; no secret in the plan', async (envName) => {
    // A copy of terraform/: init writes .terraform.lock.hcl next to the configuration.
    const work = join(root, envName)
    cpSync(join(REPO, 'terraform'), join(work, 'terraform'), { recursive: true })
    const dir = join(work, 'terraform', 'environments', envName)
    const config = loadConfig(REPO)
    const env = config.environments[envName]!
    const tfvars = join(work, 'terraform.tfvars.json')
    writeFileSync(tfvars, renderTfvars({ env, envName, catalog: loadCatalog(REPO) } as unknown as Context))
    const backend = await createStateBackend(aws!.endpoint, { key: `${envName}/terraform.tfstate` })
    const tfEnv = {
      ...awsEnvFor(aws!.endpoint),
      TF_CLI_CONFIG_FILE: rc,
      TF_DATA_DIR: join(work, 'tf-data'),
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
    }
    const tf = async (args: string[]) => {
      const t0 = Date.now()
      const r = await execa(terraformBinary(), [`-chdir=${dir}`, ...args], { env: tfEnv, reject: false, timeout: 150_000 })
      process.stderr.write(`[terraform-real] ${envName}: terraform ${args[0]} ${((Date.now() - t0) / 1000).toFixed(1)}s\n`)
      expect(r.exitCode, `terraform ${args.join(' ')}:\n${r.stderr || r.stdout}`).toBe(0)
      return r.stdout
    }

    await tf(['init', '-input=false', '-no-color', ...backendConfigArgs(backend)])
    // The modules need hashicorp/aws alone (no random, no tls: they cannot be installed here).
    const lock = readFileSync(join(dir, '.terraform.lock.hcl'), 'utf8')
    expect([...lock.matchAll(/provider "([^"]+)"/g)].map((m) => m[1])).toEqual(['registry.terraform.io/hashicorp/aws'])

    const validate = JSON.parse(await tf(['validate', '-json', '-no-color'])) as { valid: boolean; diagnostics: unknown[] }
    expect(validate).toMatchObject({ valid: true, diagnostics: [] })

    const planFile = join(work, 'plan.tfplan')
    await tf(['plan', '-input=false', '-no-color', `-var-file=${tfvars}`, `-out=${planFile}`])
    const show = await tf(['show', '-json', '-no-color', planFile])
    const plan = JSON.parse(show) as PlanJson
    const creates = plan.resource_changes.filter((c) => c.change.actions.includes('create'))
    expect(creates.length).toBeGreaterThan(70)
    const byAddress = new Map(plan.resource_changes.map((c) => [c.address, c]))

    // The ingress rules are keyed by a static name: the security group id is known only after apply.
    for (const m of ['database', 'cache']) {
      const rule = [...byAddress.keys()].filter((a) => a.startsWith(`module.platform.module.${m}.aws_vpc_security_group_ingress_rule.`))
      expect(rule, m).toEqual([expect.stringMatching(/\["eks_cluster"\]$/)])
    }

    // Write-only credentials: the cluster's and the generated secrets' values are not in the plan.
    const cluster = byAddress.get('module.platform.module.database.aws_rds_cluster.this')!.change.after!
    expect(cluster).toMatchObject({ master_password: null, master_password_wo: null, master_password_wo_version: 1 })
    const generated = ['database', 'redis', 'jwt', 'pii-encryption', 'session']
    for (const name of generated) {
      const v = byAddress.get(`module.platform.module.secrets.aws_secretsmanager_secret_version.generated["${name}"]`)!.change.after!
      expect(v, name).toMatchObject({ secret_string: null, secret_string_wo: null, secret_string_wo_version: 1 })
    }
    // No JSON secret value but the placeholders (smtp's password is REPLACE_ME until a person sets it).
    expect(show).not.toMatch(/\\"password\\":\\"(?!REPLACE_ME)|\\"(secret|key|auth_token)\\":/)

    // prod copies backups to the DR region through the aws.dr provider; staging does not.
    const drVault = [...byAddress.keys()].filter((a) => a.startsWith('module.platform.module.backup.aws_backup_vault.dr'))
    expect(drVault).toHaveLength(envName === 'prod' ? 1 : 0)
  })
})
