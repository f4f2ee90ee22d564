/**
 * kustomizeBuild reuses a build within one process (the phase 5 and 7 steps build the same overlay
 * several times per run), and never a stale or shared one: a changed manifest file or changed
 * values build again, and a caller editing its objects leaves the next caller's untouched.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { exec, type Exec } from '../../src/clients/exec.js'
import { kustomizeBuild } from '../../src/k8s/kustomize.js'
import { REPO } from '../helpers/cli.js'

const root = mkdtempSync(join(tmpdir(), 'autolytiq-kustomize-reuse-'))
cpSync(join(REPO, 'k8s'), join(root, 'k8s'), { recursive: true })
afterAll(() => rmSync(root, { recursive: true, force: true }))

let runs = 0
const counting: Exec = (file, args, opts) => {
  runs++
  return exec(file, args, opts)
}
const build = (namespace = 'autolytiq-sandbox') => kustomizeBuild(counting, { root, dir: 'k8s/overlays/sandbox', namespace })
const deployment = (objects: Awaited<ReturnType<typeof build>>['objects'], name: string) =>
  objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as { spec: { replicas?: number } } | undefined

describe('kustomizeBuild reuse', () => {
  it('the same overlay and values build once; each caller gets its own objects', async () => {
    const first = await build()
    const again = await build()
    expect(runs).toBe(1)
    expect(again.yaml).toBe(first.yaml)
    deployment(first.objects, 'deal-service')!.spec.replicas = 99
    expect(deployment((await build()).objects, 'deal-service')!.spec.replicas).not.toBe(99)
    await build('other-namespace')
    expect(runs).toBe(2)
  })

  it('a changed manifest file builds again and shows the change', async () => {
    const before = runs
    const file = join(root, 'k8s', 'overlays', 'sandbox', 'kustomization.yaml')
    writeFileSync(file, `${readFileSync(file, 'utf8')}\ncommonAnnotations:\n  autolytiq.test/reuse: changed\n`)
    const changed = await build()
    expect(runs).toBe(before + 1)
    expect(changed.yaml).toContain('autolytiq.test/reuse: changed')
  })
})
