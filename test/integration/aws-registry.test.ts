import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  DeleteLifecyclePolicyCommand,
  ECRClient,
  PutImageCommand,
  PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand,
  CreateRepositoryCommand,
  PutLifecyclePolicyCommand,
} from '@aws-sdk/client-ecr'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { loadCatalog } from '../../src/config/catalog.js'
import { lifecyclePolicy } from '../../src/steps/aws/ecr.js'
import { awsProject, outcome, runInProcess, type AwsProject } from './aws-project.js'

// Plan phase 4 against moto: ECR repositories, release images, and GitHub setup (gh cannot reach
// GitHub here: absent → skipped; a stand-in gh script, named as such, proves secrets go on stdin).
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''
const catalog = loadCatalog(join(import.meta.dirname, '..', '..'))
const repos = catalog.services.map((s) => s.ecrRepository)

/** What CI would push: a minimal image manifest under the release tag (moto stores it as ECR does). */
async function pushReleaseImages(ecr: ECRClient, tag: string, only = repos): Promise<void> {
  for (const repositoryName of only) {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 2, digest: `sha256:${'1'.repeat(64)}` },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 3, digest: `sha256:${repositoryName.length.toString(16).padStart(64, '0')}` },
      ],
    })
    await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: tag }))
  }
}

/** The repositories as terraform/modules/ecr creates them (scan on push, IMMUTABLE, keep-30; KMS in the module, AES256 here). */
async function asTerraformMakesThem(ecr: ECRClient, only = repos): Promise<void> {
  for (const repositoryName of only) {
    await ecr.send(
      new CreateRepositoryCommand({
        repositoryName,
        imageScanningConfiguration: { scanOnPush: true },
        imageTagMutability: 'IMMUTABLE',
        encryptionConfiguration: { encryptionType: 'AES256' },
      }),
    )
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: JSON.stringify(lifecyclePolicy(30)) }))
  }
}

describe.skipIf(!aws)('phase 4 against moto', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  it('ecr.repositories (the sandbox too: terraform/modules/ecr makes them): done as terraform leaves them; drift fails naming phase 2 and is never repaired here', async () => {
    p = await awsProject({ endpoint })
    const ecr = new ECRClient(p.sdk)
    expect(repos).toHaveLength(12)
    await asTerraformMakesThem(ecr)

    const done = await runInProcess(p, ['ecr.repositories'])
    expect(outcome(done.report, 'ecr.repositories'), JSON.stringify(done.report.error)).toBe('unchanged')
    expect(done.mutating).toEqual([])

    // Drift: a lifecycle policy removed, scan on push turned off, tags made mutable.
    await ecr.send(new DeleteLifecyclePolicyCommand({ repositoryName: 'autolytiq/deal-service' }))
    await ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: 'autolytiq/auth-service', imageScanningConfiguration: { scanOnPush: false } }))
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'autolytiq/user-service', imageTagMutability: 'MUTABLE' }))
    const drifted = await runInProcess(p, ['ecr.repositories'])
    expect(drifted.report.result).toBe('failed')
    expect(drifted.mutating, 'terraform owns them: never repaired here').toEqual([])
    expect(drifted.report.error?.message).toMatch(/auth-service: scan on push off.*deal-service: lifecycle policy missing.*user-service: tags are mutable/)
    expect(drifted.report.error?.next).toContain('`autolytiq deploy --env sandbox --phase 2`')
  })

  it('ecr.repositories (staging/prod: terraform owns them): only checks; missing fails naming phase 2, CLI-era ones name the import', async () => {
    p = await awsProject({ endpoint, envName: 'staging', environment: { sandbox: false, awsEndpoint: endpoint } })
    const ecr = new ECRClient(p.sdk)

    const missing = await runInProcess(p, ['ecr.repositories'])
    expect(missing.report.result).toBe('failed')
    expect(missing.mutating, 'never creates a repository').toEqual([])
    expect(missing.report.error?.message).toMatch(/^ECR repositories are not as terraform\/modules\/ecr makes them: .*autolytiq\/api-gateway missing/)
    expect(missing.report.error?.next).toBe('run phase 2 (terraform.plan and terraform.apply create them): `autolytiq deploy --env staging --phase 2`')

    // As the CLI used to create them: mutable tags -> the adoption path, still nothing changed
    for (const repositoryName of repos) {
      await ecr.send(new CreateRepositoryCommand({ repositoryName, imageScanningConfiguration: { scanOnPush: true } }))
      await ecr.send(new PutLifecyclePolicyCommand({ repositoryName, lifecyclePolicyText: JSON.stringify(lifecyclePolicy(30)) }))
    }
    const cliEra = await runInProcess(p, ['ecr.repositories'])
    expect(cliEra.report.result).toBe('failed')
    expect(cliEra.mutating).toEqual([])
    expect(cliEra.report.error?.message).toMatch(/tags are mutable/)
    expect(cliEra.report.error?.next).toContain('ecr_adopt_existing_repositories: true')

    // As terraform/modules/ecr leaves them (terraform adopted them: immutable tags)
    for (const repositoryName of repos) await ecr.send(new PutImageTagMutabilityCommand({ repositoryName, imageTagMutability: 'IMMUTABLE' }))
    const done = await runInProcess(p, ['ecr.repositories'])
    expect(outcome(done.report, 'ecr.repositories')).toBe('unchanged')
    expect(done.mutating).toEqual([])
  })

  it('images: verify fails naming the services without the release tag; once CI pushed them both steps are done', async () => {
    p = await awsProject({ endpoint })
    const ecr = new ECRClient(p.sdk)
    await asTerraformMakesThem(ecr)
    await pushReleaseImages(ecr, 'v1.0.0', repos.slice(0, 10))

    const missing = await runCli(['deploy', '--env', 'sandbox', '--only', 'images.verify', '--json'], p.cliEnv)
    expect(missing.code).toBe(1)
    const report = JSON.parse(missing.stdout)
    expect(report.error.message).toBe('release v1.0.0 is missing in ECR for settings-service, data-retention-service')

    // No Docker engine here: images.publish refuses to pretend, and says how to let CI build.
    // Hermetic: whatever AUTOLYTIQ_SKIP_BUILD the caller's shell exports is removed (undefined)
    // or set here, so the environment's `images.source` decides (default: build).
    const publish = (env: Record<string, string | undefined>) =>
      runCli(['deploy', '--env', 'sandbox', '--only', 'images.publish', '--yes', '--json'], { ...p.cliEnv, AUTOLYTIQ_SKIP_BUILD: undefined, ...env })
    const noDocker = await publish({ AUTOLYTIQ_SOURCE_DIR: p.root })
    expect(noDocker.code).toBe(2)
    expect(JSON.parse(noDocker.stdout).error.message).toMatch(/no Dockerfile for settings-service|docker cannot build here/)
    expect(JSON.parse(noDocker.stdout).error.next).toContain('`images: { source: ci }` for sandbox in autolytiq.yaml')

    const skipped = await publish({ AUTOLYTIQ_SKIP_BUILD: '1' })
    expect(skipped.code, skipped.stdout).toBe(0)
    expect(JSON.parse(skipped.stdout).steps[0]).toMatchObject({ outcome: 'skipped', detail: 'build skipped (CI publishes); 2 service(s) still lack v1.0.0' })

    // The environment's configuration says CI publishes: no variable needed; =0 overrides it.
    const config = join(p.root, 'autolytiq.yaml')
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^( +)release: (.*)$/m, '$1release: $2\n$1images: { source: ci }'))
    const fromConfig = await publish({})
    expect(fromConfig.code, fromConfig.stdout).toBe(0)
    expect(JSON.parse(fromConfig.stdout).steps[0]).toMatchObject({ outcome: 'skipped', detail: 'build skipped (CI publishes); 2 service(s) still lack v1.0.0' })
    const forced = await publish({ AUTOLYTIQ_SKIP_BUILD: '0', AUTOLYTIQ_SOURCE_DIR: p.root })
    expect(forced.code, forced.stdout).toBe(2)

    await pushReleaseImages(ecr, 'v1.0.0', repos.slice(10))
    const done = await runInProcess(p, ['images.publish', 'images.verify'])
    expect(done.report.steps.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged'])
    expect(done.mutating).toEqual([])
    expect(done.ctx.state.outputs('images.verify')?.images).toContain(`${p.account.accountId}.dkr.ecr.us-east-1.amazonaws.com/autolytiq/api-gateway:v1.0.0`)
  })

  it('github.setup: skipped with a warning when gh is not installed', async () => {
    p = await awsProject({ endpoint })
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'github.setup', '--yes', '--json'], { ...p.cliEnv, PATH: '/usr/bin:/bin' })
    expect(r.code, r.stdout).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.steps[0]).toMatchObject({ outcome: 'skipped' })
    expect(report.warnings.join('\n')).toContain('github.setup skipped: the GitHub CLI (gh) is not installed')
  })

  it('github.setup with a stand-in gh (GitHub cannot run here): values go on stdin, never in argv or output', async () => {
    p = await awsProject({ endpoint })
    // MOCK of the GitHub CLI: records argv and stdin, answers like an empty repository.
    const bin = join(p.root, 'fake-gh-bin')
    mkdirSync(bin)
    const logFile = join(p.root, 'gh-calls.jsonl')
    writeFileSync(
      join(bin, 'gh'),
      `#!/usr/bin/env node
const fs = require('fs')
const args = process.argv.slice(2)
const input = args.includes('--input') || args[0] === 'secret' && args[1] === 'set' ? fs.readFileSync(0, 'utf8') : ''
fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ args, input }) + '\\n')
const a = args.join(' ')
if (a.startsWith('repo view')) console.log('acme/desk-studio')
else if (a.startsWith('secret list')) console.log('[]')
else if (a.endsWith('/environments')) console.log('{"total_count":0,"environments":[]}')
else if (a.includes('deployment-branch-policies') && !a.includes('POST')) console.log('{"branch_policies":[]}')
else console.log('{}')
`,
    )
    chmodSync(join(bin, 'gh'), 0o755)
    const accessKey = ['AKIA', 'FAKEFORTEST12345'].join('') // assembled at run time: no key-shaped literal in the repo
    const secretKey = 'https://hooks.example.test/services/fake-webhook-for-the-stand-in-gh-0123'
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'github.setup', '--yes', '--json'], {
      ...p.cliEnv,
      PATH: `${bin}:${process.env.PATH}`,
      // given, but no longer wanted: CD assumes its role through GitHub OIDC (issue #16 item 5)
      AUTOLYTIQ_GITHUB_AWS_ACCESS_KEY_ID: accessKey,
      AUTOLYTIQ_GITHUB_SLACK_WEBHOOK_URL: secretKey,
    })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const calls = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { args: string[]; input: string })
    const sets = calls.filter((c) => c.args[0] === 'secret' && c.args[1] === 'set')
    expect(sets.map((c) => [c.args[2], c.input])).toEqual([['SLACK_WEBHOOK_URL', secretKey]])
    for (const c of calls) expect(c.args.join(' ') + c.input).not.toContain(accessKey)
    for (const c of calls) expect(c.args.join(' ')).not.toContain(secretKey)
    const envPuts = calls.filter((c) => c.args[1] === '-X' && c.args[2] === 'PUT')
    expect(envPuts.map((c) => c.args[3])).toEqual(['repos/acme/desk-studio/environments/staging', 'repos/acme/desk-studio/environments/prod'])
    expect(envPuts.map((c) => JSON.parse(c.input).deployment_branch_policy)).toEqual([
      { protected_branches: false, custom_branch_policies: true },
      { protected_branches: false, custom_branch_policies: true },
    ])
    const policies = calls.filter((c) => c.args[2] === 'POST').map((c) => `${c.args[3]!.split('/')[4]} ${c.args[5]} ${c.args[7]}`)
    expect(policies).toEqual(['staging name=main type=branch', 'prod name=v* type=tag'])
    expect(r.stdout + r.stderr).not.toContain(secretKey)
  })
})
