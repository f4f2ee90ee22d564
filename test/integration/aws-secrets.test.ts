import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { redact } from '../../src/engine/redact.js'
import { awsProject, describeCalls, outcome, runInProcess, type AwsProject } from './aws-project.js'

// Plan phase 3 against moto: the eight secrets as terraform leaves them (generated values and
// REPLACE_ME placeholders), filled in from environment variables, values never shown anywhere.
const aws = inject('aws')
const endpoint = aws?.endpoint ?? ''

const RESEND_KEY = 're_Live4TestOnlyKq93HxZ'
const STRIPE_KEY = 'sk_live_TestOnly7Yw2PqZr'
const SMTP_PASSWORD = 'smtp-Pa55-TestOnly-Vx8'

const PROVIDED = {
  AUTOLYTIQ_SECRET_SMTP_HOST: 'smtp.mail.test',
  AUTOLYTIQ_SECRET_SMTP_PORT: '587',
  AUTOLYTIQ_SECRET_SMTP_USERNAME: 'desk-studio',
  AUTOLYTIQ_SECRET_SMTP_PASSWORD: SMTP_PASSWORD,
  AUTOLYTIQ_SECRET_SMTP_FROM: 'noreply@mail.test',
  AUTOLYTIQ_SECRET_RESEND_API_KEY: RESEND_KEY,
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_SENTRY_DSN: 'https://k3y@o1.ingest.sentry.test/42',
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_SECRET_KEY: STRIPE_KEY,
  AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_WEBHOOK_SECRET: 'whsec_TestOnlyR4nd0mV4lue',
}

/** The eight secrets as terraform/modules/secrets creates them. */
async function seedSecrets(sm: SecretsManagerClient, env: string, skip: string[] = []): Promise<void> {
  const values: Record<string, object> = {
    database: { engine: 'postgres', host: 'db.test', port: 5432, dbname: 'autolytiq', username: 'autolytiq_admin', password: 'GeneratedDbPassw0rd!' },
    redis: { host: 'redis.test', port: 6379, auth_token: 'GeneratedRedisAuthToken0123456789', tls: true },
    jwt: { secret: 'GeneratedJwtSecret0123456789abcdef' },
    'pii-encryption': { key: 'R2VuZXJhdGVkUElJa2V5MDEyMzQ1Njc4OWFiY2RlZg==' },
    session: { secret: 'GeneratedSessionSecret0123456789' },
    smtp: { host: 'REPLACE_ME', port: '587', username: 'REPLACE_ME', password: 'REPLACE_ME', from: 'REPLACE_ME' },
    resend: { api_key: 'REPLACE_ME' },
    'external-apis': { sentry_dsn: 'REPLACE_ME', datadog_api_key: '', stripe_secret_key: 'REPLACE_ME', stripe_webhook_secret: 'REPLACE_ME' },
  }
  for (const [name, value] of Object.entries(values))
    if (!skip.includes(name)) await sm.send(new CreateSecretCommand({ Name: `autolytiq/${env}/${name}`, SecretString: JSON.stringify(value) }))
}

async function secretJson(sm: SecretsManagerClient, id: string): Promise<Record<string, unknown>> {
  return JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: id }))).SecretString!)
}

/** Everything the tool wrote locally: state, audit log, work files. */
function everythingWritten(p: AwsProject): string {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else out.push(readFileSync(path, 'utf8'))
    }
  }
  walk(p.home)
  return out.join('\n')
}

describe.skipIf(!aws)('secrets.expected against moto', () => {
  let p: AwsProject
  afterEach(() => p?.cleanup())

  it('placeholders without values: exit 2 naming the variable to set, nothing changed', async () => {
    p = await awsProject({ endpoint })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox')
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], p.cliEnv)
    expect(r.code, r.stdout).toBe(2)
    const report = JSON.parse(r.stdout)
    expect(report.error.message).toContain('autolytiq/sandbox/smtp host (or set AUTOLYTIQ_SECRET_SMTP_HOST): a value is needed and this run cannot prompt')
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: 'REPLACE_ME' })
  })

  it("a sandbox's third-party values come from its sandboxSecrets in autolytiq.yaml (a variable still wins); an unknown field there is refused", async () => {
    const configured = {
      smtp: { host: 'smtp.sandbox.test', port: '587', username: 'sandbox-mailer', password: 'configured-smtp-pw', from: 'noreply@sandbox.test' },
      resend: { api_key: 're_configured_sandbox' },
      'external-apis': { sentry_dsn: 'https://k@sentry.sandbox.test/1' },
    }
    p = await awsProject({ endpoint, environment: { sandboxSecrets: configured } })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox')
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], {
      ...p.cliEnv,
      AUTOLYTIQ_SECRET_RESEND_API_KEY: RESEND_KEY,
    })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await secretJson(sm, 'autolytiq/sandbox/smtp')).toEqual(configured.smtp)
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: RESEND_KEY })
    // optional fields nobody configured keep what terraform wrote
    expect(await secretJson(sm, 'autolytiq/sandbox/external-apis')).toMatchObject({ sentry_dsn: configured['external-apis'].sentry_dsn, datadog_api_key: '' })
    expect(r.stdout + r.stderr).not.toContain('configured-smtp-pw')

    p.cleanup()
    p = await awsProject({ endpoint, environment: { sandboxSecrets: { jwt: { secret: 'not-a-third-party-value' } } } })
    const refused = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], p.cliEnv)
    expect(refused.code, refused.stdout).toBe(2)
    expect(JSON.parse(refused.stdout).error.message).toBe(
      'sandboxSecrets of sandbox in autolytiq.yaml names jwt.secret, not a field of a third-party secret; nothing was changed',
    )
  })

  it('configured values that are not credentials stay readable: an SMTP user named like the Aurora cluster does not mask the cluster id in the state', async () => {
    // autolytiq.yaml's sandbox: smtp username autolytiq-sandbox, the Aurora cluster autolytiq-sandbox
    const configured = {
      smtp: { host: 'smtp.sandbox.test', port: '587', username: 'autolytiq-sandbox', password: 'configured-smtp-pw-2', from: 'noreply@sandbox.test' },
      resend: { api_key: 're_configured_sandbox_2' },
      'external-apis': { sentry_dsn: 'https://k@sentry.sandbox.test/2' },
    }
    p = await awsProject({ endpoint, environment: { sandboxSecrets: configured } })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox')
    const run = await runInProcess(p, ['secrets.expected'])
    expect(run.report.result, JSON.stringify(run.report.error)).toBe('succeeded')
    expect(await secretJson(sm, 'autolytiq/sandbox/smtp')).toEqual(configured.smtp)
    // what every later state save, log line and report goes through
    expect(redact('rds_cluster_id autolytiq-sandbox, smtp.sandbox.test, noreply@sandbox.test')).toBe(
      'rds_cluster_id autolytiq-sandbox, smtp.sandbox.test, noreply@sandbox.test',
    )
    expect(redact('configured-smtp-pw-2 re_configured_sandbox_2 https://k@sentry.sandbox.test/2')).not.toMatch(
      /configured-smtp-pw-2|re_configured_sandbox_2|sentry\.sandbox\.test\/2/,
    )
  })

  it('fills the placeholders from environment variables, never showing a value; the re-run changes nothing', async () => {
    p = await awsProject({ endpoint })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox')

    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], { ...p.cliEnv, ...PROVIDED })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: RESEND_KEY })
    expect(await secretJson(sm, 'autolytiq/sandbox/external-apis')).toEqual({
      sentry_dsn: PROVIDED.AUTOLYTIQ_SECRET_EXTERNAL_APIS_SENTRY_DSN,
      datadog_api_key: '',
      stripe_secret_key: STRIPE_KEY,
      stripe_webhook_secret: PROVIDED.AUTOLYTIQ_SECRET_EXTERNAL_APIS_STRIPE_WEBHOOK_SECRET,
    })
    expect((await secretJson(sm, 'autolytiq/sandbox/smtp')).password).toBe(SMTP_PASSWORD)
    // Generated values are terraform's: untouched.
    expect((await secretJson(sm, 'autolytiq/sandbox/jwt')).secret).toBe('GeneratedJwtSecret0123456789abcdef')

    const log = await runCli(['log', '--env', 'sandbox', '--json'], p.cliEnv)
    for (const secret of [RESEND_KEY, STRIPE_KEY, SMTP_PASSWORD, 'GeneratedDbPassw0rd!', 'GeneratedJwtSecret0123456789abcdef']) {
      expect(r.stdout + r.stderr, secret).not.toContain(secret)
      expect(log.stdout, secret).not.toContain(secret)
      expect(everythingWritten(p), secret).not.toContain(secret)
    }

    const again = await runInProcess(p, ['secrets.expected'])
    expect(outcome(again.report, 'secrets.expected')).toBe('unchanged')
    expect(again.mutating).toEqual([])
    expect(describeCalls(again.calls).every((c) => /^secretsmanager\.(DescribeSecret|GetSecretValue)$/.test(c))).toBe(true)
  })

  it('a secret terraform should have created is missing: exit 1 naming it, nothing written', async () => {
    p = await awsProject({ endpoint })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox', ['session'])
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], { ...p.cliEnv, ...PROVIDED })
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).error).toMatchObject({
      message: 'autolytiq/sandbox/session missing (terraform creates these)',
      next: 'apply the infrastructure: `autolytiq deploy --env sandbox --from terraform.plan`',
    })
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: 'REPLACE_ME' })
  })

  it('a field an ExternalSecret reads is missing from a terraform secret: exit 1 naming secret, field and reader, before phase 5', async () => {
    p = await awsProject({ endpoint })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox', ['redis'])
    // redis as a terraform module that stopped writing `tls` would leave it (REDIS_URL's scheme reads it)
    await sm.send(
      new CreateSecretCommand({
        Name: 'autolytiq/sandbox/redis',
        SecretString: JSON.stringify({ host: 'redis.test', port: 6379, auth_token: 'GeneratedRedisAuthToken0123456789' }),
      }),
    )
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], { ...p.cliEnv, ...PROVIDED })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(JSON.parse(r.stdout).error).toMatchObject({
      message: 'autolytiq/sandbox/redis: tls (read by ExternalSecret autolytiq-secrets) is unset or a placeholder (terraform creates these)',
      next: 'apply the infrastructure: `autolytiq deploy --env sandbox --from terraform.plan`',
    })
    // nothing was written: the provided secrets still hold their placeholders
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: 'REPLACE_ME' })
  })

  it('an unknown secret variable is refused (exit 2) before anything is written', async () => {
    p = await awsProject({ endpoint })
    const sm = new SecretsManagerClient(p.sdk)
    await seedSecrets(sm, 'sandbox')
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes', '--json'], {
      ...p.cliEnv,
      ...PROVIDED,
      AUTOLYTIQ_SECRET_RESEND_APIKEY: 're_typo',
    })
    expect(r.code).toBe(2)
    const error = JSON.parse(r.stdout).error
    expect(error.message).toBe('unknown secret variable(s) AUTOLYTIQ_SECRET_RESEND_APIKEY; nothing was changed')
    expect(error.next).toContain('AUTOLYTIQ_SECRET_RESEND_API_KEY')
    expect(await secretJson(sm, 'autolytiq/sandbox/resend')).toEqual({ api_key: 'REPLACE_ME' })
  })

  it('an unknown secret name in the runbook is refused when the runbook loads (exit 2)', async () => {
    p = await awsProject({ endpoint })
    const rb = readFileSync(join(p.root, 'runbooks', 'go-live.yaml'), 'utf8').replace(
      '- uses: secrets.expected',
      '- uses: secrets.expected\n        with: { secrets: [database, stripe] }',
    )
    writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), rb)
    const r = await runCli(['deploy', '--env', 'sandbox', '--only', 'secrets.expected', '--yes'], p.cliEnv)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('parameters of step "secrets.expected" (with:) is invalid')
    expect(r.stderr).toMatch(/secrets\.1: Invalid enum value\. Expected 'database' \| 'redis' .*received 'stripe'/)
  })
})
