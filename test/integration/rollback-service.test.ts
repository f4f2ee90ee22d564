/**
 * `autolytiq rollback --service / --to-revision / --image-tag` through the CLI, against the real
 * API server and controllers (Deployment -> ReplicaSets with revisions -> pods made Ready by the
 * node simulator; an image tag containing `crash` crash-loops).
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import {
  deployImage,
  deploymentManifest,
  image,
  json,
  readyPodImages,
  rollbackProject,
  rolledOut,
  seedEcrImages,
  templateImage,
  type RollbackProject,
} from './rollback-project.js'

const kube = inject('kube')
const aws = inject('aws')
const ns = `rb-svc-${randomBytes(3).toString('hex')}`
const ENV = 'rbsvc'
let p: RollbackProject

/** Every catalog Deployment at v1 (1 replica; deal-service 3) and the CronJob: what `--all` acts on. */
const CATALOG_DEPLOYMENTS = [
  'api-gateway',
  'auth-service',
  'deal-service',
  'customer-service',
  'inventory-service',
  'email-service',
  'user-service',
  'config-service',
  'showroom-service',
  'messaging-service',
  'settings-service',
]

const cli = (...args: string[]) => runCli(['rollback', '--env', ENV, ...args], p.env)

interface RollbackJson {
  ok: boolean
  runId: string
  exitCode: number
  result: string
  changes: { service: string; before: Record<string, string>; after: Record<string, string>; fromRevision?: number; toRevision?: number; changed: boolean }[]
  verification: { service: string; ok: boolean; detail: string }[]
}

describe.skipIf(!kube || !aws)('rollback --service / --image-tag on a real control plane', () => {
  beforeAll(async () => {
    p = rollbackProject({ kube: kube!, aws: aws!, envName: ENV, namespace: ns })
    // The tags rolled back to exist in ECR (moto), as CI's builds would have left them.
    await seedEcrImages(aws!, [...CATALOG_DEPLOYMENTS, 'data-retention-service'], ['v0.9.0', 'v0.8.0', 'v0.7.0-crash'])
    await p.core.createNamespace({ body: { metadata: { name: ns } } })
    for (const name of CATALOG_DEPLOYMENTS)
      await p.apps.createNamespacedDeployment({ namespace: ns, body: deploymentManifest(name, image(name, 'v1'), name === 'deal-service' ? 3 : 1) })
    await p.batch.createNamespacedCronJob({
      namespace: ns,
      body: {
        metadata: { name: 'data-retention-service' },
        spec: {
          schedule: '0 3 * * *',
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: 'Never', containers: [{ name: 'data-retention-service', image: image('data-retention-service', 'v1') }] } },
            },
          },
        },
      },
    })
    await Promise.all(CATALOG_DEPLOYMENTS.map((name) => rolledOut(p, name)))
    // Release v2 of deal-service: revision 2.
    await deployImage(p, 'deal-service', image('deal-service', 'v2'))
  }, 180_000)

  afterAll(async () => {
    await p?.core.deleteNamespace({ name: ns }).catch(() => {})
    p?.cleanup()
  })

  it('--dry-run prints deployment, revision and image before -> after, and changes nothing', async () => {
    const before = await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })
    const r = await cli('--service', 'deal-service', '--dry-run')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('deal-service (revision 2 -> 1)')
    expect(r.stdout).toContain(`${image('deal-service', 'v2')} -> ${image('deal-service', 'v1')}`)
    expect(r.stdout).toContain('PATCH apps/v1 namespaces/' + ns + '/deployments/deal-service')
    const after = await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })
    expect(after.metadata?.generation).toBe(before.metadata?.generation)
  })

  it('refuses without --yes when it cannot ask, an unknown service lists the valid ones; nothing changes (exit 2)', async () => {
    const noYes = await cli('--service', 'deal-service')
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toMatch(/cannot ask for confirmation.*nothing was changed/)
    const unknown = await cli('--service', 'deals-service', '--yes')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown service "deals-service"')
    expect(unknown.stderr).toContain('deal-service, customer-service')
    const allWithoutTag = await cli('--all', '--yes')
    expect(allWithoutTag.code).toBe(2)
    expect(await templateImage(p, 'deal-service')).toBe(image('deal-service', 'v2'))
  })

  it('rolls v2 back to v1: v1 images, available, verified, before/after printed, audited', async () => {
    const r = await cli('--service', 'deal-service', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = json<RollbackJson>(r.stdout)
    expect(out.result).toBe('rolled-back')
    expect(out.changes).toEqual([
      expect.objectContaining({
        service: 'deal-service',
        fromRevision: 2,
        toRevision: 1,
        before: { 'deal-service': image('deal-service', 'v2') },
        after: { 'deal-service': image('deal-service', 'v1') },
        changed: true,
      }),
    ])
    expect(out.verification).toEqual([expect.objectContaining({ service: 'deal-service', ok: true })])

    // The cluster agrees: template on v1, revision 1's ReplicaSet re-adopted as revision 3, 3/3 Ready on v1.
    const d = await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(image('deal-service', 'v1'))
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('3')
    expect(d.status?.availableReplicas).toBe(3)
    expect(await readyPodImages(p, 'deal-service')).toEqual(Array(3).fill(image('deal-service', 'v1')))

    const audit = p.audit().filter((e) => e.action === 'rollback.undo' && e.step === 'deal-service')
    expect(audit.map((e) => e.result)).toEqual(['started', 'ok'])
    const point = p.state().rollbackPoints.find((x) => x.kind === 'k8s.deployment-images')
    expect(point?.data).toEqual({
      namespace: ns,
      deployments: { 'deal-service': { images: { 'deal-service': image('deal-service', 'v2') }, revision: 2, replicas: 3 } },
    })

    // Human output shows the image before and after.
    const text = await cli('--service', 'deal-service', '--to-revision', '3', '--yes')
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('Nothing to roll back')
  })

  it('refuses to undo its own undo (that would re-deploy v2), and --to-revision does it on purpose', async () => {
    const again = await cli('--service', 'deal-service', '--yes')
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('was already rolled back')
    expect(again.stderr).toContain('--to-revision')
    expect(await templateImage(p, 'deal-service')).toBe(image('deal-service', 'v1'))

    const missing = await cli('--service', 'deal-service', '--to-revision', '42', '--yes')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('has no revision 42')

    const r = await cli('--service', 'deal-service', '--to-revision', '2', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(json<RollbackJson>(r.stdout).changes[0]).toMatchObject({ fromRevision: 3, toRevision: 2, after: { 'deal-service': image('deal-service', 'v2') } })
    expect(await readyPodImages(p, 'deal-service')).toEqual(Array(3).fill(image('deal-service', 'v2')))
  })

  it('a Deployment with no earlier revision: a clear message, nothing changed', async () => {
    const r = await cli('--service', 'inventory-service', '--yes')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('inventory-service has no earlier revision to roll back to')
    expect(await templateImage(p, 'inventory-service')).toBe(image('inventory-service', 'v1'))
  })

  it('--image-tag for two services: both on the tag in their own repository, verified; the others untouched', async () => {
    const r = await cli('--image-tag', 'v0.9.0', '--service', 'auth-service', '--service', 'customer-service', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = json<RollbackJson>(r.stdout)
    expect(out.changes.map((c) => c.service)).toEqual(['auth-service', 'customer-service'])
    expect(out.verification.every((v) => v.ok)).toBe(true)
    expect(await readyPodImages(p, 'auth-service')).toEqual([image('auth-service', 'v0.9.0')])
    expect(await readyPodImages(p, 'customer-service')).toEqual([image('customer-service', 'v0.9.0')])
    expect(await templateImage(p, 'user-service')).toBe(image('user-service', 'v1'))
  })

  it('a tag that was never pushed to ECR: refused before anything changes (exit 2)', async () => {
    const r = await cli('--image-tag', 'v0.0.0-never-built', '--service', 'auth-service', '--yes')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('ECR has no image autolytiq/auth-service:v0.0.0-never-built')
    expect(await templateImage(p, 'auth-service')).toBe(image('auth-service', 'v0.9.0'))
  })

  it('--image-tag --all: every catalog Deployment and the CronJob on the tag; re-running changes nothing', async () => {
    const r = await cli('--image-tag', 'v0.8.0', '--all', '--yes', '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = json<RollbackJson>(r.stdout)
    expect(out.changes).toHaveLength(12)
    expect(out.verification.filter((v) => v.ok)).toHaveLength(12)
    for (const name of CATALOG_DEPLOYMENTS) expect(await templateImage(p, name), name).toBe(image(name, 'v0.8.0'))
    const cron = await p.batch.readNamespacedCronJob({ name: 'data-retention-service', namespace: ns })
    expect(cron.spec?.jobTemplate.spec?.template.spec?.containers[0]?.image).toBe(image('data-retention-service', 'v0.8.0'))
    expect(await readyPodImages(p, 'deal-service')).toEqual(Array(3).fill(image('deal-service', 'v0.8.0')))

    const generations = await Promise.all(
      CATALOG_DEPLOYMENTS.map(async (n) => (await p.apps.readNamespacedDeployment({ name: n, namespace: ns })).metadata?.generation),
    )
    const again = await cli('--image-tag', 'v0.8.0', '--all', '--yes', '--json')
    expect(again.code).toBe(0)
    expect(json<RollbackJson>(again.stdout).result).toBe('no-change')
    const after = await Promise.all(
      CATALOG_DEPLOYMENTS.map(async (n) => (await p.apps.readNamespacedDeployment({ name: n, namespace: ns })).metadata?.generation),
    )
    expect(after).toEqual(generations)
  })

  it('a crashing target fails fast (exit 1) with the pod and reason, and is audited as failed', async () => {
    const t0 = Date.now()
    const r = await cli('--image-tag', 'v0.7.0-crash', '--service', 'email-service', '--yes', '--json')
    expect(r.code).toBe(1)
    expect(Date.now() - t0).toBeLessThan(60_000) // not the 600 s rollout timeout
    const out = json<RollbackJson & { error: { message: string } }>(r.stdout)
    expect(out.result).toBe('failed')
    expect(out.error.message).toContain('CrashLoopBackOff')
    expect(
      p
        .audit()
        .filter((e) => e.runId === out.runId)
        .map((e) => `${e.step} ${e.result}`),
    ).toEqual(['email-service started', 'email-service failed'])
    // ...and the undo puts it back.
    const back = await cli('--service', 'email-service', '--yes')
    expect(back.code, back.stderr).toBe(0)
    expect(await readyPodImages(p, 'email-service')).toEqual([image('email-service', 'v0.8.0')])
  })

  it('another run holding the environment lock: exit 3, nothing changed', async () => {
    const lockFile = join(p.home, 'state', `${ENV}.lock`)
    mkdirSync(join(p.home, 'state'), { recursive: true })
    const now = new Date().toISOString()
    writeFileSync(
      lockFile,
      JSON.stringify({ runId: 'other', user: 'alice', host: 'laptop-2', pid: 1, command: 'autolytiq deploy', startedAt: now, heartbeatAt: now }),
    )
    try {
      const r = await cli('--service', 'deal-service', '--to-revision', '1', '--yes')
      expect(r.code).toBe(3)
      expect(r.stderr).toContain('alice@laptop-2')
      expect(await templateImage(p, 'deal-service')).toBe(image('deal-service', 'v0.8.0'))
    } finally {
      const { rmSync } = await import('node:fs')
      rmSync(lockFile, { force: true })
    }
  })
})
