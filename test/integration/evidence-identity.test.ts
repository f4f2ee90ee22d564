/**
 * Evidence (the alert test, smoke tests, the load baseline, verify) records which environment it
 * proved — release, AWS account, cluster (kube-system's UID) — and counts only for that one: after
 * `sandbox down` + `sandbox up` (a brand-new cluster) it is gathered again. Against the real API
 * server, moto and Alertmanager of the harness.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { monitoringAlertTest as alertTest } from '../../src/steps/monitoring/alert-test.js'
import { provedOnNow, staleBecause } from '../../src/steps/verify/proved-on.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const aws = inject('aws')
const alertmanager = inject('alertmanager')
let t: TestContext | undefined
afterEach(() => t?.cleanup())

describe.skipIf(!kube || !aws || !alertmanager)('evidence knows the environment it proved', () => {
  it('provedOnNow reads the cluster identity and the AWS account', async () => {
    t = await testContext({ env: { kubeconfig: kube!.kubeconfigPath, awsEndpoint: aws!.endpoint } })
    const kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    const uid = (await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' })).metadata?.uid
    expect(uid).toBeTruthy()
    expect(await provedOnNow(t.ctx)).toEqual({ release: 'v1.0.0', account: '123456789012', cluster: uid })
  })

  it('monitoring.alert-test: done for the same cluster, sent again for a new one', async () => {
    t = await testContext({ env: { kubeconfig: kube!.kubeconfigPath, awsEndpoint: aws!.endpoint, alertmanagerUrl: alertmanager!.url } })
    const params = alertTest.params.parse({})
    const todo = await alertTest.check(t.ctx, params)
    expect(todo.status).toBe('todo')
    const out = await alertTest.run(t.ctx, params)
    t.ctx.state.setOutputs('monitoring.alert-test', out as Record<string, unknown>)
    expect(await alertTest.check(t.ctx, params)).toMatchObject({ status: 'done' })

    // The same state after the sandbox was rebuilt: another cluster answers at the same address.
    const now = await provedOnNow(t.ctx)
    t.ctx.state.setOutputs('monitoring.alert-test', { ...(out as Record<string, unknown>), provedOn: { ...now, cluster: 'uid-of-the-old-cluster' } })
    const again = await alertTest.check(t.ctx, params)
    expect(again).toEqual({
      status: 'todo',
      detail: `the last test alert no longer counts: it proved another cluster (kube-system uid-of-the-old-cluster, now ${now.cluster})`,
    })
    // Evidence from before environments were recorded does not count either.
    t.ctx.state.setOutputs('monitoring.alert-test', { release: 'v1.0.0', acceptedAt: 'earlier' })
    expect(await alertTest.check(t.ctx, params)).toMatchObject({ status: 'todo' })
  })

  it('staleBecause names what changed', () => {
    const now = { release: 'v1.0.0', account: '111111111111', cluster: 'a' }
    expect(staleBecause(now, now)).toBeUndefined()
    expect(staleBecause({ ...now, account: '222222222222' }, now)).toBe('it proved AWS account 222222222222, this is 111111111111')
    expect(staleBecause({ ...now, release: 'v0.9.0' }, now)).toBe('it proved release v0.9.0, this is v1.0.0')
  })
})
