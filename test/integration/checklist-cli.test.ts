/**
 * `autolytiq checklist` through the built CLI (no terminal, CI=true): every plan item is evaluated
 * or left open for a person, the export says which and why, the exit code says "not complete",
 * and a deploy holding the environment's lock is respected.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { createTestPki, type TestPki } from '../harness/tls-certs.js'
import { startDnsServer, type TestDnsServer } from '../harness/dns.js'
import { makeTempDir, removeTempDir } from '../harness/tmp.js'
import { runCli } from '../helpers/cli.js'
import { tempProject, type TempProject } from '../helpers/project.js'
import { loadChecklist } from '../../src/engine/checklist.js'
import { baseEnvironment } from '../fixtures/verify-context.js'
import { startGateway, type TestGateway } from '../fixtures/gateway.js'

const kube = inject('kube')
const aws = inject('aws')
const HOST = 'api.sandbox.autolytiq.local'
const MANUAL_ONLY = ['rbac', 'runbooks', 'on-call', 'incident-response', 'rollback-tested', 'stakeholders', 'support-briefed', 'documentation']

let dir: string
let pki: TestPki
let dns: TestDnsServer
let gateway: TestGateway
let project: TempProject

beforeAll(async () => {
  dir = makeTempDir('checklist-cli')
  pki = await createTestPki(join(dir, 'pki'))
  dns = await startDnsServer({ records: { [HOST]: [{ type: 'A', address: '127.0.0.1' }] } })
  gateway = await startGateway(pki)
  project = tempProject({
    environments: {
      test: baseEnvironment({
        apiUrl: `https://${HOST}:${gateway.port}`,
        dnsServers: [dns.server],
        caFile: pki.caCertPath,
        kubeconfig: kube?.kubeconfigPath,
        namespace: 'checklist-cli-nothing-deployed',
        awsEndpoint: aws?.endpoint,
      }),
    },
  })
})

afterAll(async () => {
  await Promise.all([gateway?.stop(), dns?.stop()])
  project?.cleanup()
  removeTempDir(dir)
})

describe.skipIf(!kube || !aws)('autolytiq checklist', () => {
  it('evaluates every item, leaves manual ones open without a terminal, exports the evidence, exits 1', async () => {
    const exportFile = join(project.root, 'go-live.md')
    const r = await runCli(['checklist', '--env', 'test', '--json', '--export', exportFile], project.env, { cwd: project.root })
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout) as {
      ok: boolean
      complete: boolean
      counts: Record<string, number>
      unasked: string[]
      items: { id: string; status: string; detail: string }[]
    }
    expect(out.ok).toBe(false)
    expect(out.complete).toBe(false)
    expect(out.counts.total).toBe(26)
    expect(out.items.map((i) => i.id)).toEqual(loadChecklist(project.root).sections.flatMap((s) => s.items.map((i) => i.id)))
    expect(out.unasked).toEqual(MANUAL_ONLY)
    const byId = Object.fromEntries(out.items.map((i) => [i.id, i]))
    expect(byId['tls-valid']).toMatchObject({ status: 'done' })
    expect(byId['nodes-healthy']).toMatchObject({ status: 'done' })
    expect(byId['pods-ready']!.status).toBe('failed')
    expect(byId['pods-ready']!.detail).toContain('api-gateway: Deployment not found in checklist-cli-nothing-deployed')
    expect(byId['migrations']!.detail).toContain('k8s.migrate has not completed (status never run)')
    // No prometheusUrl: asked through the API server's service proxy, and not confirmed (no
    // reachable Prometheus in this namespace-less test cluster, or none deployed at all)
    expect(byId['prometheus-targets']!.status).not.toBe('done')
    expect(byId['prometheus-targets']!.detail).toMatch(/Prometheus|prometheus/)
    expect(byId['rbac']).toMatchObject({ status: 'open', detail: 'manual: not answered' })

    const md = readFileSync(exportFile, 'utf8')
    expect(md.split('\n')[0]).toBe(
      `# Go-live checklist: test v1.0.0 — INCOMPLETE: ${out.counts.done}/26 done, ${out.counts.failed} failed, ${out.counts.open} open`,
    )
    for (const section of loadChecklist(project.root).sections) {
      expect(md).toContain(`## ${section.title}\n`)
      for (const i of section.items) expect(md).toMatch(new RegExp(`^- \\[[x ]\\] ${i.text.replace(/[()/]/g, '\\$&')}`, 'm'))
    }
    expect(md).toContain('- [x] All EKS nodes are healthy\n  - automatic — k8s.nodes: pass — ')
    expect(md).toContain('- [ ] RBAC configured correctly — **OPEN**\n  - manual: not answered')
    expect(md).toContain('Open manual items (8) need a person: run `autolytiq checklist --env test` in a terminal.')

    // Automatic results are recorded with who (autolytiq) and when; nobody answered for a person.
    const state = JSON.parse(readFileSync(join(project.home, 'state', 'test.json'), 'utf8')) as {
      checklist: Record<string, { by: string; automatic: boolean }>
    }
    expect(state.checklist['nodes-healthy']).toMatchObject({ by: 'autolytiq', automatic: true, status: 'pass' })
    for (const id of MANUAL_ONLY) expect(state.checklist[id]).toBeUndefined()
  })

  it('--answers signs manual items from a reviewed file without a terminal; strict: an unknown item exits 2, nothing recorded', async () => {
    const file = join(project.root, 'go-live-answers.yaml')
    const statePath = join(project.home, 'state', 'test.json')
    const answers = (extra: Record<string, unknown> = {}) =>
      writeFileSync(
        file,
        stringify({
          environment: 'test',
          signedBy: 'Dana Reviewer <dana@example.test>',
          answers: { rbac: { answer: 'yes', note: 'roles reviewed in PR 42' }, stakeholders: { answer: 'n/a' }, backups: { answer: 'yes' }, ...extra },
        }),
      )
    answers({ 'no-such-item': { answer: 'yes' } })
    const before = readFileSync(statePath, 'utf8')
    const unknown = await runCli(['checklist', '--env', 'test', '--answers', file], project.env, { cwd: project.root })
    expect(unknown.code, unknown.stderr).toBe(2)
    expect(unknown.stderr).toContain(`Error: answers file ${file}: unknown checklist item "no-such-item"; nothing was recorded`)
    expect(unknown.stderr).toContain('Next: manual items: rbac, backups, grafana-dashboards')
    answers({ 'nodes-healthy': { answer: 'yes' } })
    const automatic = await runCli(['checklist', '--env', 'test', '--answers', file], project.env, { cwd: project.root })
    expect(automatic.code).toBe(2)
    expect(automatic.stderr).toContain('item "nodes-healthy" is checked automatically, not signed')
    expect(readFileSync(statePath, 'utf8')).toBe(before)

    answers()
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex')
    const r = await runCli(['checklist', '--env', 'test', '--answers', file, '--json'], project.env, { cwd: project.root })
    expect(r.code).toBe(1) // other items are still open or failed
    const out = JSON.parse(r.stdout) as { unasked: string[]; items: { id: string; status: string; detail: string }[] }
    expect(out.unasked).toEqual(MANUAL_ONLY.filter((id) => !['rbac', 'stakeholders'].includes(id)))
    // signed before the probes pass (CD signs, then deploys): recorded, and the item stays failed
    expect(out.items.find((i) => i.id === 'backups')!.status).toBe('failed')
    expect(out.items.find((i) => i.id === 'rbac')).toMatchObject({
      status: 'done',
      detail: expect.stringMatching(/^manual: yes by Dana Reviewer <dana@example\.test> at .* \(roles reviewed in PR 42\)$/),
    })
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { checklist: Record<string, Record<string, unknown>> }
    expect(state.checklist['backups']).toMatchObject({ status: 'yes', by: 'Dana Reviewer <dana@example.test>', automatic: false })
    expect(state.checklist['rbac']).toMatchObject({
      status: 'yes',
      by: 'Dana Reviewer <dana@example.test>',
      detail: 'roles reviewed in PR 42',
      via: `answers file sha256:${sha256}`,
    })
    const audit = readFileSync(join(project.home, 'state', 'test.audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; params?: Record<string, unknown> })
    expect(audit.filter((a) => a.action === 'checklist.answers-file').map((a) => a.params)).toEqual([
      { file, sha256, signedBy: 'Dana Reviewer <dana@example.test>', items: ['rbac', 'stakeholders', 'backups'] },
    ])

    // `log` shows the item, the answer and a detail on every checklist row.
    const log = await runCli(['log', '--env', 'test'], project.env, { cwd: project.root })
    const row = log.stdout.split('\n').find((l) => l.includes('checklist.answer ') && l.includes('rbac'))
    expect(row).toMatch(/checklist\.answer\s+rbac\s+yes\s+ok\s+roles reviewed in PR 42/)
    expect(log.stdout.split('\n').find((l) => l.includes('checklist.answers-file'))).toContain(
      `signed by Dana Reviewer <dana@example.test>, sha256 ${sha256.slice(0, 12)}`,
    )
  })

  it('refuses while another run holds the environment (exit 3)', async () => {
    const lock = join(project.home, 'state', 'test.lock')
    mkdirSync(join(project.home, 'state'), { recursive: true })
    const now = new Date().toISOString()
    // A live holder: this test process, as a deploy would be.
    writeFileSync(
      lock,
      JSON.stringify({
        runId: 'deploy-1',
        user: userInfo().username,
        host: hostname(),
        pid: process.pid,
        command: 'autolytiq deploy',
        startedAt: now,
        heartbeatAt: now,
      }),
    )
    const r = await runCli(['checklist', '--env', 'test'], project.env, { cwd: project.root })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('Error: environment "test" is locked by')
  })
})
