/**
 * The production kms + observability modules (test/fixtures/modules-on-moto) applied through the
 * CLI's own terraform steps with the real hashicorp/aws provider against moto, state in the
 * versioned S3 bucket `state-backend` makes. Shared by rollback-infra-modules.test.ts and
 * terraform-kill-apply.test.ts; each file gets its own moto account, bucket and temporary copy.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { execa } from 'execa'
import { expect } from 'vitest'
import { NodeSha256 } from '../../src/clients/eks-token.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { REPO, runCli, type CliResult } from '../helpers/cli.js'
import type { ProvidedAws } from '../setup/global-setup.js'
import { awsProject, type AwsProject } from './aws-project.js'

export const TERRAFORM_STEPS = ['state-backend', 'terraform.tfvars', 'terraform.init', 'terraform.plan', 'terraform.apply']

/** What `deploy --json` prints (the part these tests read). */
export interface DeployReport {
  result: string
  steps: { id: string; outcome: string; detail?: string }[]
}

export interface ModulesOnMoto {
  p: AwsProject
  s3: S3Client
  /** Seconds per labelled CLI run, printed when the file ends. */
  seconds: Record<string, number>
  cli(label: string, args: string[], extra?: Record<string, string>): Promise<CliResult>
  /** `deploy --env sandbox --only <each of steps> --yes --json` (default: the terraform steps). */
  deploy(label: string, extra?: Record<string, string>, steps?: string[]): Promise<CliResult>
  /** A JSON-protocol AWS call (KMS, CloudWatch Logs), SigV4-signed: the project has no SDK client for them. */
  awsJson<T>(service: string, target: string, body: Record<string, unknown>): Promise<T>
  stop(): void
}

export const explain = (r: CliResult): string =>
  `exit ${r.code} signal ${r.signal}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`

export async function modulesOnMoto(name: string, aws: ProvidedAws, terraformVars: Record<string, unknown> = {}): Promise<ModulesOnMoto> {
  const dir = makeTempDir(name)
  // The repository's layout, so the fixture's ../../../terraform/modules sources resolve; init writes here.
  cpSync(join(REPO, 'terraform', 'modules'), join(dir, 'terraform', 'modules'), { recursive: true })
  const root = join(dir, 'test', 'fixtures', 'modules-on-moto')
  cpSync(join(REPO, 'test', 'fixtures', 'modules-on-moto'), root, { recursive: true })
  const p = await awsProject({
    endpoint: aws.endpoint,
    environment: { terraformDir: root },
    runtime: { terraformVars: { aws_endpoint: aws.endpoint, ...terraformVars } },
  })
  // The project's setup writes the CLI configuration (the machine's provider mirror, else the registry).
  p.cliEnv.TF_CLI_CONFIG_FILE = join(dir, 'terraformrc')
  await execa('bash', [join(REPO, 'scripts', 'terraform-cli-config.sh')], { env: { TF_CLI_CONFIG_FILE: p.cliEnv.TF_CLI_CONFIG_FILE } })
  const s3 = new S3Client(p.sdk)
  const seconds: Record<string, number> = {}

  const cli = async (label: string, args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    const t0 = Date.now()
    // Each terraform command loads the 200 MB AWS provider (~10 s of CPU); on 2 busy cores a deploy took 281 s.
    const r = await runCli(args, { ...p.cliEnv, ...extra }, { timeoutMs: 480_000 })
    seconds[label] = (Date.now() - t0) / 1000
    return r
  }
  const deploy = (label: string, extra: Record<string, string> = {}, steps = TERRAFORM_STEPS) =>
    cli(label, ['deploy', '--env', 'sandbox', ...steps.flatMap((s) => ['--only', s]), '--yes', '--json'], extra)

  async function awsJson<T>(service: string, target: string, body: Record<string, unknown>): Promise<T> {
    const url = new URL(aws.endpoint)
    const text = JSON.stringify(body)
    const signer = new SignatureV4({ service, region: 'us-east-1', credentials: p.sdk.credentials, sha256: NodeSha256 })
    const req = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      body: text,
    })
    const res = await fetch(url, { method: 'POST', headers: req.headers, body: text })
    expect(res.status, await res.clone().text()).toBe(200)
    return (await res.json()) as T
  }

  const stop = () => {
    process.stderr.write(
      `[${name}] ${Object.entries(seconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', ')}\n`,
    )
    s3.destroy()
    p.cleanup()
    removeTempDir(dir)
  }
  return { p, s3, seconds, cli, deploy, awsJson, stop }
}
