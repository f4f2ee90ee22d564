/**
 * Rollback notifications end to end: `autolytiq rollback` against the real control plane posts
 * its summary to a recording HTTP server, with the webhook URL read from a Secrets Manager
 * secret in moto (the environment names only the secret).
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateSecretCommand, DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { startWebhookSink, type WebhookSink } from '../harness/webhook-sink.js'
import { deployImage, deploymentManifest, image, json, rollbackProject, type RollbackProject } from './rollback-project.js'

const kube = inject('kube')
const aws = inject('aws')
const id = randomBytes(3).toString('hex')
const ns = `notify-${id}`
const ENV = 'notify'
const SECRET = `autolytiq/notify-${id}/slack-webhook`
const TOKEN = `hooktoken${id}Zk29xQ`

type Payload = { text: string }

let p: RollbackProject
let sink: WebhookSink
let sm: SecretsManagerClient

const cli = (...args: string[]) => runCli(args, p.env)

/** A new release of `name`; the controller may update the Deployment between read and replace (409): retry as kubectl does. */
async function release(name: string, img: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deployImage(p, name, img)
      return
    } catch (err) {
      if (attempt >= 5 || !String((err as Error).message).includes('HTTP-Code: 409')) throw err
    }
  }
}

describe.skipIf(!kube || !aws)('rollback notifications (webhook from Secrets Manager)', () => {
  beforeAll(async () => {
    sink = await startWebhookSink()
    sm = new SecretsManagerClient({
      endpoint: aws!.endpoint,
      region: aws!.region,
      credentials: { accessKeyId: aws!.accessKeyId, secretAccessKey: aws!.secretAccessKey },
    })
    // A JSON secret, as teams keep several values in one: the notifier takes its "url".
    await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: JSON.stringify({ url: `${sink.url}services/T1/B1/${TOKEN}`, channel: '#deploys' }) }))
    p = rollbackProject({ kube: kube!, aws: aws!, envName: ENV, namespace: ns, env: { slackWebhook: { secretId: SECRET } } })
    await p.core.createNamespace({ body: { metadata: { name: ns } } })
    // auth-service: v1 then v2, so an undo goes back to a healthy v1.
    await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest('auth-service', image('auth-service', 'v1'), 1) })
    await release('auth-service', image('auth-service', 'v2'))
    // deal-service: revision 1 crash-loops (node simulator), v2 is healthy: an undo brings back the crash.
    await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest('deal-service', image('deal-service', 'v1-crash'), 1) })
    await release('deal-service', image('deal-service', 'v2'))
  }, 180_000)

  afterAll(async () => {
    await p?.core.deleteNamespace({ name: ns }).catch(() => {})
    await sm?.send(new DeleteSecretCommand({ SecretId: SECRET, ForceDeleteWithoutRecovery: true })).catch(() => {})
    sm?.destroy()
    await sink?.stop()
    p?.cleanup()
  })

  let seen = 0
  beforeEach(() => {
    seen = sink.received().length
  })
  const newPayloads = (): Payload[] => sink.received().slice(seen) as Payload[]

  it('a successful rollback: what went from which image to which, who, how long', async () => {
    const r = await cli('rollback', '--env', ENV, '--service', 'auth-service', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(json<{ result: string; warnings: string[] }>(r.stdout)).toMatchObject({ result: 'rolled-back', warnings: [] })
    const [msg] = newPayloads()
    const lines = msg!.text.split('\n')
    expect(lines[0]).toBe(`:white_check_mark: autolytiq rollback *succeeded* on *${ENV}* — release v1.0.0`)
    expect(lines[1]).toMatch(/^By \S+@\S+ · took [\d.]+m?s · run \S+$/)
    expect(lines[2]).toBe(`auth-service: ${image('auth-service', 'v2')} → ${image('auth-service', 'v1')}`)
    expect(r.stdout + r.stderr).not.toContain(TOKEN)
  })

  it('a failed rollback (the restored revision crash-loops): the reason, exit code 1 as without Slack', async () => {
    const r = await cli('rollback', '--env', ENV, '--service', 'deal-service', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(1)
    const out = json<{ result: string; error: { message: string }; warnings: string[] }>(r.stdout)
    expect(out.result).toBe('failed')
    expect(out.warnings).toEqual([])
    const [msg] = newPayloads()
    const lines = msg!.text.split('\n')
    expect(lines[0]).toBe(`:x: autolytiq rollback *failed* on *${ENV}* — release v1.0.0`)
    expect(msg!.text).toMatch(/CrashLoopBackOff/)
    expect(msg!.text).toContain(out.error.message.split('\n')[0]!.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').slice(0, 60))
  })

  it('a dry run posts nothing', async () => {
    const r = await cli('rollback', '--env', ENV, '--service', 'auth-service', '--to-revision', '2', '--dry-run')
    expect(r.code, r.stderr).toBe(0)
    expect(newPayloads()).toEqual([])
  })

  it('a secret that does not exist: a warning naming it, the run unaffected, nothing in state', async () => {
    const missing = rollbackProject({ kube: kube!, aws: aws!, envName: ENV, namespace: ns, env: { slackWebhook: { secretId: `${SECRET}-missing` } } })
    try {
      const r = await runCli(['deploy', '--env', ENV, '--only', 'terraform.tfvars', '--yes', '--json'], missing.env)
      expect(r.code, r.stderr).toBe(0)
      expect(json<{ warnings: string[] }>(r.stdout).warnings).toEqual([
        expect.stringMatching(
          new RegExp(`^Slack notification not sent: cannot read Secrets Manager secret ${SECRET}-missing: .*; the deploy result is unaffected$`),
        ),
      ])
      expect(newPayloads()).toEqual([])
      for (const f of readdirSync(join(missing.home, 'state'))) expect(readFileSync(join(missing.home, 'state', f), 'utf8')).not.toContain(TOKEN)
    } finally {
      missing.cleanup()
    }
  })
})
