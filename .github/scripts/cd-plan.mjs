// The CD workflow's plan, from the repository's own files (never a copied list):
//   matrix      one entry per service in services/catalog.yaml: {service, repository}
//   registries  the ECR registries of the environments this release deploys (autolytiq.yaml)
//   regions     each of those environments' AWS region, by name
//   accounts    each of those environments' AWS account id, by name (every job checks its identity is in it)
//   roles       each environment's CD role (Terraform's autolytiq-cd-<env>), assumed through GitHub OIDC
//   source      the one registry CI pushes to (the first environment's); ECR replicates to the others
//   release     the tag, which must be the release autolytiq.yaml deploys in each environment
// Usage: node .github/scripts/cd-plan.mjs <environment>...   (writes to $GITHUB_OUTPUT)
import { appendFileSync, readFileSync } from 'node:fs'
import process from 'node:process'
import { parse } from 'yaml'

const fail = (message) => {
  process.stderr.write(`::error::${message}\n`)
  process.exit(1)
}

const environments = process.argv.slice(2)
if (environments.length === 0) fail('usage: cd-plan.mjs <environment>...')
const tag = process.env.GITHUB_REF_NAME
if (!tag) fail('GITHUB_REF_NAME is not set (the pushed tag)')

const catalog = parse(readFileSync('services/catalog.yaml', 'utf8'))
const matrix = (catalog?.services ?? []).map((s) => ({ service: s.name, repository: s.ecrRepository }))
if (matrix.length === 0) fail('services/catalog.yaml lists no services')

const config = parse(readFileSync('autolytiq.yaml', 'utf8'))
const registries = []
const regions = {}
const accounts = {}
const roles = {}
for (const name of environments) {
  const env = config?.environments?.[name]
  if (!env) fail(`autolytiq.yaml has no environment "${name}"`)
  // deploy ships the release named in autolytiq.yaml: a tag that differs would build one version and deploy another.
  if (env.release !== tag)
    fail(`tag ${tag} is not the release of ${name} in autolytiq.yaml (${env.release}); set release: ${tag} there, commit, then tag that commit`)
  regions[name] = env.region
  accounts[name] = env.accountId
  roles[name] = `arn:aws:iam::${env.accountId}:role/autolytiq-cd-${name}`
  // the CD role trusts one repository (terraformVars.github_repository): say so here, not as an
  // opaque "Not authorized to perform sts:AssumeRoleWithWebIdentity" later
  const trusted = env.terraformVars?.github_repository
  const repo = process.env.GITHUB_REPOSITORY
  if (trusted && repo && trusted !== repo)
    fail(`the CD role of ${name} trusts ${trusted} (autolytiq.yaml terraformVars.github_repository), not ${repo}: set it to ${repo} and apply terraform`)
  const registry = `${env.accountId}.dkr.ecr.${env.region}.amazonaws.com`
  if (!registries.some((r) => r.registry === registry)) registries.push({ registry, accountId: env.accountId, region: env.region })
}

const outputs = {
  matrix: JSON.stringify(matrix),
  registries: JSON.stringify(registries),
  source: JSON.stringify(registries[0]),
  regions: JSON.stringify(regions),
  accounts: JSON.stringify(accounts),
  roles: JSON.stringify(roles),
  release: tag,
}
const lines = Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`)
if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, lines.join(''))
process.stdout.write(lines.join(''))
