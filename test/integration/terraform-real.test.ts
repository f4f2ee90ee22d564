import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig } from '../../src/config/environments.js'
import type { Context } from '../../src/engine/types.js'
import { renderTfvars } from '../../src/steps/terraform/tfvars.js'
import { awsConfigFor, awsEnvFor } from '../harness/moto.js'
import { backendConfigArgs, createStateBackend, terraformBinary, type TerraformBackend } from '../harness/terraform.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { awsProject } from './aws-project.js'

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
  change: { actions: string[]; before?: Record<string, unknown> | null; after: Record<string, unknown> | null; after_unknown?: Record<string, unknown> }
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

/** A copy of terraform/ with a TF_DATA_DIR and a state backend on moto, and a terraform runner. */
async function workspace(root: string, rc: string, name: string) {
  const work = join(root, name)
  // A copy: init writes .terraform.lock.hcl next to the configuration.
  cpSync(join(REPO, 'terraform'), join(work, 'terraform'), { recursive: true })
  // modules/ecr reads the catalog beside terraform/, as in the repository
  cpSync(join(REPO, 'services'), join(work, 'services'), { recursive: true })
  const backend: TerraformBackend = await createStateBackend(aws!.endpoint, { key: `${name}/terraform.tfstate` })
  const env = {
    ...awsEnvFor(aws!.endpoint),
    TF_CLI_CONFIG_FILE: rc,
    TF_DATA_DIR: join(work, 'tf-data'),
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
  }
  const tf = async (dir: string, args: string[], okExitCodes = [0]) => {
    const t0 = Date.now()
    const r = await execa(terraformBinary(), [`-chdir=${dir}`, ...args], { env, reject: false, timeout: 150_000 })
    process.stderr.write(`[terraform-real] ${name}: terraform ${args[0]} ${((Date.now() - t0) / 1000).toFixed(1)}s\n`)
    expect(okExitCodes, `terraform ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr || r.stdout}`).toContain(r.exitCode)
    return r
  }
  return { work, backend, tf }
}

describe.skipIf(!aws).concurrent('the real AWS provider against moto', () => {
  let root: string
  let rc: string
  beforeAll(async () => {
    root = makeTempDir('tf-real')
    rc = await cliConfig(root)
  })
  afterAll(() => removeTempDir(root))

  it.each(['staging', 'prod'])('%s: init, validate and plan succeed; no secret in the plan', async (envName) => {
    const { work, backend, tf } = await workspace(root, rc, envName)
    const dir = join(work, 'terraform', 'environments', envName)
    const env = loadConfig(REPO).environments[envName]!
    const tfvars = join(work, 'terraform.tfvars.json')
    writeFileSync(tfvars, renderTfvars({ env, envName, catalog: loadCatalog(REPO) } as unknown as Context))

    await tf(dir, ['init', '-input=false', '-no-color', ...backendConfigArgs(backend)])
    // The modules need hashicorp/aws alone (no random, no tls: they cannot be installed here).
    const lock = readFileSync(join(dir, '.terraform.lock.hcl'), 'utf8')
    expect([...lock.matchAll(/provider "([^"]+)"/g)].map((m) => m[1])).toEqual(['registry.terraform.io/hashicorp/aws'])

    const validate = JSON.parse((await tf(dir, ['validate', '-json', '-no-color'])).stdout) as { valid: boolean; diagnostics: unknown[] }
    expect(validate).toMatchObject({ valid: true, diagnostics: [] })

    const planFile = join(work, 'plan.tfplan')
    await tf(dir, ['plan', '-input=false', '-no-color', `-var-file=${tfvars}`, `-out=${planFile}`])
    const show = (await tf(dir, ['show', '-json', '-no-color', planFile])).stdout
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

  it("the CLI's terraform.init installs the provider through the CLI configuration the setup writes, and names the setup when it cannot", async () => {
    // An environment whose terraformDir is (a copy of) the staging root, its state on moto.
    const copy = join(root, 'cli-init', 'terraform')
    cpSync(join(REPO, 'terraform'), copy, { recursive: true })
    // modules/ecr reads the catalog beside terraform/, as in the repository
    cpSync(join(REPO, 'services'), join(root, 'cli-init', 'services'), { recursive: true })
    const p = await awsProject({ endpoint: aws!.endpoint, environment: { terraformDir: join(copy, 'environments', 'staging') } })
    try {
      const deploy = (steps: string[], env: Record<string, string>) =>
        runCli(['deploy', '--env', 'sandbox', ...steps.flatMap((s) => ['--only', s]), '--yes', '--json'], { ...p.cliEnv, ...env }, { timeoutMs: 150_000 })
      // aws-project's CLI config is empty: no mirror, and registry.terraform.io is out of reach here.
      const without = await deploy(['state-backend', 'terraform.init'], {})
      expect(without.code, without.stdout + without.stderr).toBe(1)
      const report = JSON.parse(without.stdout) as { error?: { message: string; next?: string } }
      expect(report.error?.message).toContain('terraform init could not install the providers')
      expect(report.error?.next).toContain('bash scripts/terraform-cli-config.sh')
      expect(report.error?.next).toContain('autolytiq deploy --env sandbox --from terraform.init')

      const withMirror = await deploy(['terraform.init'], { TF_CLI_CONFIG_FILE: rc })
      expect(withMirror.code, withMirror.stdout + withMirror.stderr).toBe(0)
    } finally {
      p.cleanup()
    }
  })

  it('modules database + secrets applied: the generated secrets keep their keys, their values stay out of state; a version bump rotates cluster and secret together', async () => {
    // Aurora and Secrets Manager as modules/platform wires them (one ephemeral password, written to the
    // cluster and to the database secret), in a small root: the whole platform cannot be applied on
    // moto 5.2.1 (no CreateBackupSelection; no cluster security group on EKS clusters; no member
    // clusters behind a replication group for DescribeCacheClusters): see terraform-sandbox-platform.test.ts
    // for the whole platform with those three resources switched off.
    const { work, backend, tf } = await workspace(root, rc, 'secrets-apply')
    const dir = join(work, 'terraform', 'environments', 'secrets-apply')
    mkdirSync(dir)
    writeFileSync(join(dir, 'main.tf'), SECRETS_ROOT)
    await tf(dir, ['init', '-input=false', '-no-color', ...backendConfigArgs(backend)])
    await tf(dir, ['apply', '-input=false', '-no-color', '-auto-approve', '-var=db_password_version=1'])

    const sm = new SecretsManagerClient(awsConfigFor(aws!.endpoint))
    const rds = new RDSClient(awsConfigFor(aws!.endpoint))
    const s3 = new S3Client(awsConfigFor(aws!.endpoint))
    const secret = async (name: string) =>
      JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: `autolytiq/wotest/${name}` }))).SecretString!) as Record<string, unknown>
    // "" and null are the same unset value (secret_string reads back as "" next to secret_string_wo).
    const same = (v: unknown) => JSON.stringify(v === '' || v === undefined ? null : v)
    // Resource address -> the top-level attributes a plan sets to a new known value (computed
    // consequences such as a new version_id are left out; the resource is listed all the same).
    const changesPlanned = async (version: number): Promise<Record<string, string[]>> => {
      const file = join(work, `plan-${version}.tfplan`)
      await tf(dir, ['plan', '-input=false', '-no-color', `-var=db_password_version=${version}`, `-out=${file}`])
      const plan = JSON.parse((await tf(dir, ['show', '-json', '-no-color', file])).stdout) as PlanJson
      const changed: Record<string, string[]> = {}
      for (const c of plan.resource_changes.filter((r) => !r.change.actions.every((a) => a === 'no-op' || a === 'read'))) {
        const before = (c.change.before ?? {}) as Record<string, unknown>
        const after = c.change.after ?? {}
        const keys = new Set([...Object.keys(before), ...Object.keys(after), ...Object.keys(c.change.after_unknown ?? {})])
        changed[c.address] = [...keys].filter((k) => c.change.after_unknown?.[k] !== true && same(before[k]) !== same(after[k])).sort()
      }
      return changed
    }
    const state = async () => await (await s3.send(new GetObjectCommand({ Bucket: backend.bucket, Key: backend.key }))).Body!.transformToString()
    try {
      const db = await secret('database')
      const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'wotest' }))).DBClusters![0]!
      expect(Object.keys(db).sort()).toEqual(['dbname', 'engine', 'host', 'password', 'port', 'username'])
      expect(db).toMatchObject({ engine: 'postgres', host: cluster.Endpoint, port: cluster.Port, dbname: 'autolytiq', username: 'autolytiq_admin' })
      expect(db.password).toMatch(/^[A-Za-z0-9]{40}$/)
      const jwt = await secret('jwt')
      const session = await secret('session')
      const pii = await secret('pii-encryption')
      expect(Object.keys(jwt)).toEqual(['secret'])
      expect(Object.keys(session)).toEqual(['secret'])
      expect(Object.keys(pii)).toEqual(['key'])
      expect(Buffer.from(String(pii.key), 'base64')).toHaveLength(32)
      expect(Object.keys(await secret('redis')).sort()).toEqual(['auth_token', 'host', 'port', 'tls'])
      const generated = [db.password, jwt.secret, session.secret, pii.key].map(String)
      const state1 = await state()
      for (const v of generated) expect(state1.includes(v), 'a generated secret is in the state').toBe(false)

      // Ephemeral values are new on every run, yet nothing is planned: written only at creation.
      expect(await changesPlanned(1)).toEqual({})

      // Rotation: bumping the version changes the cluster's password and the secret in one plan, nothing else.
      expect(await changesPlanned(2)).toEqual({
        'module.database.aws_rds_cluster.this': ['master_password_wo_version'],
        'module.secrets.aws_secretsmanager_secret_version.generated["database"]': ['secret_string_wo_version'],
      })
    } finally {
      sm.destroy()
      rds.destroy()
      s3.destroy()
    }
  })
})

/** modules/network, kms, database and secrets, wired as modules/platform wires them. */
const SECRETS_ROOT = `
terraform {
  backend "s3" {}
}

variable "db_password_version" {
  type = number
}

ephemeral "aws_secretsmanager_random_password" "db_master" {
  password_length     = 40
  exclude_punctuation = true
}

module "kms" {
  source      = "../../modules/kms"
  environment = "wotest"
}

module "network" {
  source            = "../../modules/network"
  name              = "wotest"
  cluster_name      = "wotest"
  cidr              = "10.0.0.0/16"
  nat_gateway_count  = 1
  kms_key_arn        = module.kms.key_arn
  log_retention_days = 1
}

module "database" {
  source                  = "../../modules/database"
  name                    = "wotest"
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  allowed_security_groups = {}
  master_password         = ephemeral.aws_secretsmanager_random_password.db_master.random_password
  master_password_version = var.db_password_version
  kms_key_arn             = module.kms.key_arn
  engine_version          = "15.10"
  instance_count          = 0
  backup_retention_days   = 1
  deletion_protection     = false
}

module "secrets" {
  source               = "../../modules/secrets"
  environment          = "wotest"
  kms_key_arn          = module.kms.key_arn
  recovery_window_days = 0
  versions             = { database = var.db_password_version }
  database = {
    host                = module.database.endpoint
    port                = module.database.port
    dbname              = module.database.database_name
    username            = module.database.master_username
    cluster_resource_id = module.database.cluster_resource_id
  }
  database_password = ephemeral.aws_secretsmanager_random_password.db_master.random_password
  redis = {
    host                 = "master.wotest.cache.example"
    port                 = 6379
    replication_group_id = "wotest"
    auth_token           = "redis-token-in-state-by-design-0123456789"
  }
}
`
