/**
 * Every write autolytiq makes uses the field manager `autolytiq`, so a deploy after a rollback
 * reports what actually differs: an older image is drift, ownership alone is not. Against the
 * real API server: the manifests are applied server-side as k8s.deploy does, `autolytiq rollback`
 * undoes a release through the CLI, and planApply (every apply step's check()) judges the result.
 */
import { randomBytes } from 'node:crypto'
import type { V1Deployment } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { KubeClients } from '../../src/clients/kube.js'
import { applyObjects, planApply } from '../../src/k8s/apply.js'
import type { KubeObject } from '../../src/k8s/objects.js'
import { runCli } from '../helpers/cli.js'
import { deploymentManifest, image, rollbackProject, rolledOut, type RollbackProject } from './rollback-project.js'

const kube = inject('kube')
const ns = `fm-${randomBytes(3).toString('hex')}`
const ENV = 'fieldmgr'
let p: RollbackProject
let clients: KubeClients

/** The Deployment as the manifests declare it for one release. */
const manifest = (tag: string): KubeObject =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    ...deploymentManifest('deal-service', image('deal-service', tag), 1),
    metadata: { name: 'deal-service', namespace: ns, labels: { app: 'deal-service' } },
  }) as unknown as KubeObject

const managers = async (): Promise<string[]> => {
  const d: V1Deployment = await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })
  return [...new Set((d.metadata?.managedFields ?? []).map((m) => `${m.manager}/${m.operation}`))].sort()
}

describe.skipIf(!kube)('field manager autolytiq on every write', () => {
  beforeAll(async () => {
    p = rollbackProject({ kube: kube!, envName: ENV, namespace: ns })
    clients = new KubeClients({ kubeconfig: kube!.kubeconfigPath, envName: ENV })
    await p.core.createNamespace({ body: { metadata: { name: ns } } })
    // Release v1, then v2, each applied server-side like k8s.deploy: revisions 1 and 2.
    for (const tag of ['v1', 'v2']) {
      await applyObjects(clients, [manifest(tag)])
      await rolledOut(p, 'deal-service')
    }
  }, 120_000)

  afterAll(async () => {
    await p?.core.deleteNamespace({ name: ns }).catch(() => {})
    p?.cleanup()
  })

  it('a rollback writes as autolytiq; the next deploy sees the older image as drift and ownership alone as no change', async () => {
    const r = await runCli(['rollback', '--env', ENV, '--service', 'deal-service', '--yes'], p.env)
    expect(r.code, r.stderr).toBe(0)
    // Before: the rollback's JSON patch was recorded under the HTTP client's name, node-fetch.
    expect(await managers()).toEqual(['autolytiq/Apply', 'autolytiq/Update', 'kube-controller-manager/Update'])

    // The manifests still say v2: the live v1 is a real difference.
    const [drift] = await planApply(clients, [manifest('v2')])
    expect(drift).toMatchObject({ action: 'update' })
    expect(drift!.diff.join('\n')).toContain(image('deal-service', 'v2'))

    // Manifests at v1 (the release was reverted in git): same values, fields held by autolytiq's
    // own rollback write. Nothing to do (the old code said "autolytiq takes ownership").
    const [same] = await planApply(clients, [manifest('v1')])
    expect(same).toMatchObject({ action: 'unchanged', diff: [] })
  })

  it('a field another manager holds (kubectl edit) is still reported as an ownership change', async () => {
    const d = await p.apps.readNamespacedDeployment({ name: 'deal-service', namespace: ns })
    const lib = await clients.lib()
    const strategic = lib.setHeaderOptions('Content-Type', lib.PatchStrategy.StrategicMergePatch)
    // kubectl edit to another tag and back: the image field now belongs to kubectl-edit.
    for (const tag of ['v0.9.0', 'v1'])
      await p.apps.patchNamespacedDeployment(
        {
          name: 'deal-service',
          namespace: ns,
          fieldManager: 'kubectl-edit',
          body: { spec: { template: { spec: { containers: [{ name: 'deal-service', image: image('deal-service', tag) }] } } } },
        },
        strategic,
      )
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(image('deal-service', 'v1'))
    const [taken] = await planApply(clients, [manifest('v1')])
    expect(taken).toMatchObject({ action: 'update' })
    expect(taken!.diff).toEqual([
      expect.stringMatching(/^\(no value changes; autolytiq takes ownership of 1 field\(s\) it declares from another field manager\)$/),
    ])
  })
})
