// The CD workflow's plan, from the repository's own files (never a copied list):
//   matrix      one entry per service in services/catalog.yaml: {service, repository}
//   registries  the ECR registries of the environments this release deploys (autolytiq.yaml)
//   regions     each of those environments' AWS region, by name
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
for (const name of environments) {
  const env = config?.environments?.[name]
  if (!env) fail(`autolytiq.yaml has no environment "${name}"`)
  // deploy ships the release named in autolytiq.yaml: a tag that differs would build one version and deploy another.
  if (env.release !== tag)
    fail(`tag ${tag} is not the release of ${name} in autolytiq.yaml (${env.release}); set release: ${tag} there, commit, then tag that commit`)
  regions[name] = env.region
  const registry = `${env.accountId}.dkr.ecr.${env.region}.amazonaws.com`
  if (!registries.some((r) => r.registry === registry)) registries.push({ registry, accountId: env.accountId, region: env.region })
}

const outputs = { matrix: JSON.stringify(matrix), registries: JSON.stringify(registries), regions: JSON.stringify(regions), release: tag }
const lines = Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`)
if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, lines.join(''))
process.stdout.write(lines.join(''))
