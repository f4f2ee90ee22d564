/**
 * Kill matrix (issue #9): the sandbox go-live runbook with the CLI SIGKILLed in the middle of every
 * step, each time resumed by the next run.
 *
 * Every run arms all steps not killed yet (AUTOLYTIQ_FAULT_KILL, src/engine/fault.ts): the first of
 * them the run reaches kills the CLI while the state file says `running` — right after its first
 * outside change lands (or after its run(), before it is recorded done), or, for a step check()
 * finds done or skipped, right after check() answers. The next run takes over the dead holder's
 * lock with `state unlock`, re-probes the killed step, finishes it, and dies in the next one.
 *
 * Its own sandbox (AUTOLYTIQ_HOME), like the end-to-end test.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm'
import { ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53'
import { AppsV1Api, BatchV1Api, KubeConfig } from '@kubernetes/client-node'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { answerChecklist } from '../helpers/checklist.js'
import { REPO, runCli, tempHome, type CliResult } from '../helpers/cli.js'

interface StatusJson {
  steps: { id: string; phase: number; status: string; attempts: number }[]
}
interface DeployJson {
  result: string
  changed: number
  steps: { id: string; outcome: string; detail?: string }[]
}
interface StateFile {
  steps: Record<string, Record<string, { status: string; changed?: boolean; attempts: number }>>
}

const NAMESPACE = 'autolytiq-sandbox'
const home = tempHome('autolytiq-kill-')
// Nothing a newcomer would not have: the CLI finds the helm scripts/install-deps.sh cached itself,
// and autolytiq.yaml says the sandbox's images come from CI (no AUTOLYTIQ_SKIP_BUILD, whatever the caller exports).
// the Terraform CLI configuration setup writes (scripts/terraform-cli-config.sh), in this test's own file
const env = { AUTOLYTIQ_HOME: home.home, AUTOLYTIQ_SKIP_BUILD: undefined, TF_CLI_CONFIG_FILE: join(home.home, 'terraformrc') }
const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { ...env, ...extra }, { timeoutMs: 900_000 })
const explain = (r: CliResult): string =>
  `exit ${r.code} signal ${r.signal}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-6000)}`
const json = <T>(r: CliResult): T => {
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    throw new Error(`not JSON: ${explain(r)}`)
  }
}
const runtime = (): { awsEndpoint: string; kubeconfig: string } => JSON.parse(readFileSync(join(home.home, 'sandbox', 'runtime.json'), 'utf8'))
const status = async (): Promise<StatusJson> => {
  const r = await cli(['status', '--env', 'sandbox', '--json'])
  // status reads the state file through its schema: exit 0 is the proof that it is valid
  expect(r.code, explain(r)).toBe(0)
  return json<StatusJson>(r)
}
const auditLines = (): { action: string; step?: string; result?: string }[] =>
  readFileSync(join(home.home, 'state', 'sandbox.audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; step?: string; result?: string })

const killed: { step: string; where: string; ms: number }[] = []

describe('kill matrix', () => {
  beforeAll(async () => {
    await execa('bash', [join(REPO, 'scripts', 'terraform-cli-config.sh')], { env: { TF_CLI_CONFIG_FILE: env.TF_CLI_CONFIG_FILE } })
    const up = await cli(['sandbox', 'up', '--json'])
    expect(up.code, explain(up)).toBe(0)
  }, 600_000)

  afterAll(async () => {
    await runCli(['sandbox', 'down'], env, { timeoutMs: 120_000 })
    home.cleanup()
    console.log(`kill matrix: ${killed.length} kill points passed\n${killed.map((k) => `  ${k.step}: ${k.where} (${k.ms} ms)`).join('\n')}`)
  }, 180_000)

  test('SIGKILL in the middle of every step: each resume completes, the state stays valid, nothing is created twice', async () => {
    const order = (await status()).steps.map((s) => s.id)
    let answered = false
    for (let run = 0; run < order.length + 5; run++) {
      const armed = order.filter((id) => !killed.some((k) => k.step === id))
      const t0 = Date.now()
      const r = await cli(['deploy', '--env', 'sandbox', '--yes', '--json'], { AUTOLYTIQ_FAULT_KILL: armed.join(',') })
      if (r.signal === 'SIGKILL') {
        const m = /\[fault injection\] SIGKILL in (\S+) (.+)/.exec(r.stderr)
        expect(m, explain(r)).not.toBeNull()
        const step = m![1]!
        killed.push({ step, where: m![2]!, ms: Date.now() - t0 })
        // the state file survived the kill: valid, the step left running, everything before it finished
        const st = await status()
        const at = st.steps.findIndex((s) => s.id === step)
        expect(st.steps[at]?.status).toBe('running')
        expect(st.steps.slice(0, at).filter((s) => !['done', 'skipped'].includes(s.status))).toEqual([])
        // the dead run still holds the lock; the on-call engineer takes it over
        const unlock = await cli(['state', 'unlock', '--env', 'sandbox', '--json'])
        expect(unlock.code, explain(unlock)).toBe(0)
        continue
      }
      const d = json<DeployJson>(r)
      if (d.result === 'succeeded') break
      // the only stop without a kill: the go-live checklist's manual items need a person
      expect(answered, explain(r)).toBe(false)
      expect(d.steps.filter((s) => s.outcome === 'failed').map((s) => s.id)).toEqual(['checklist.go-live'])
      const a = await answerChecklist(env)
      expect(a.code, a.output).toBe(0)
      answered = true
    }

    // the runbook finished: every step done or skipped, none left running
    const final = await status()
    expect(final.steps.filter((s) => !['done', 'skipped'].includes(s.status))).toEqual([])
    // full coverage: every step of the runbook was killed in its middle once and resumed
    expect(order.filter((id) => !killed.some((k) => k.step === id))).toEqual([])
    // the steps that did work were killed mid-change, not merely after check()
    const state = JSON.parse(readFileSync(join(home.home, 'state', 'sandbox.json'), 'utf8')) as StateFile
    const changedButOnlyKilledAfterCheck = Object.entries(state.steps['go-live']!)
      .filter(([id, s]) => s.changed && killed.find((k) => k.step === id)?.where.startsWith('after check()'))
      .map(([id]) => id)
    expect(changedButOnlyKilledAfterCheck).toEqual([])
    // each step completed its work once: one "ok" in the audit log at most
    const oks = auditLines().filter((l) => l.action === 'step.run' && l.result === 'ok')
    const twice = oks.map((l) => l.step).filter((s, i, all) => all.indexOf(s) !== i)
    // on failure, the audit entries of the step say why it ran again (what its check() saw)
    expect(
      twice,
      JSON.stringify(
        auditLines().filter((l) => twice.includes(l.step)),
        null,
        1,
      ),
    ).toEqual([])

    // a re-run of the finished environment changes nothing
    const again = await cli(['deploy', '--env', 'sandbox', '--yes', '--json'])
    expect(again.code, explain(again)).toBe(0)
    expect(json<DeployJson>(again).changed).toBe(0)

    // nothing was created twice: AWS resources whose create call is not idempotent by name...
    const rt = runtime()
    const aws = { endpoint: rt.awsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }
    const route53 = new Route53Client(aws)
    const acm = new ACMClient(aws)
    const zones = ((await route53.send(new ListHostedZonesCommand({}))).HostedZones ?? []).map((z) => z.Name)
    const certs = ((await acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? []).map((c) => c.DomainName)
    route53.destroy()
    acm.destroy()
    expect(zones.length).toBeGreaterThan(0)
    expect(zones.filter((z, i) => zones.indexOf(z) !== i)).toEqual([])
    expect(certs.filter((c, i) => certs.indexOf(c) !== i)).toEqual([])
    // ...and Kubernetes: one ReplicaSet per Deployment (a re-applied, changed template would add a
    // second one) and one migration Job
    const kc = new KubeConfig()
    kc.loadFromFile(rt.kubeconfig)
    const replicaSets = (await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: NAMESPACE })).items
    const deployments = (await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: NAMESPACE })).items
    expect(deployments.length).toBeGreaterThanOrEqual(11)
    const extra = deployments
      .map((dep) => ({
        name: dep.metadata?.name,
        sets: replicaSets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === dep.metadata?.uid)).length,
      }))
      .filter((x) => x.sets !== 1)
    expect(extra).toEqual([])
    const jobs = (await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NAMESPACE })).items.map((j) => j.metadata?.name)
    expect(jobs.filter((j, i) => jobs.indexOf(j) !== i)).toEqual([])
    expect(jobs.filter((j) => /migrat/.test(j ?? ''))).toHaveLength(1)
  }, 3_000_000)
})
