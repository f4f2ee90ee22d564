/**
 * #16 item 12 (the runbook/checklist side): on EKS NetworkPolicies are enforced only when the
 * VPC CNI's network policy agent is on; objects nothing enforces must not tick "Network policies
 * applied". Real API server; the aws-node DaemonSet is the object the vpc-cni add-on manages
 * (no DaemonSet controller or pods needed to read its spec).
 */
import { randomBytes } from 'node:crypto'
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { networkPoliciesCheck } from '../../src/checks/k8s.js'
import { KubeView } from '../../src/checks/k8s-view.js'
import { runChecks } from '../../src/checks/run.js'
import { testContext, type TestContext } from '../fixtures/verify-context.js'

const kube = inject('kube')
const namespace = `netpol-${randomBytes(3).toString('hex')}`

describe.skipIf(!kube)('NetworkPolicies count as applied only when the VPC CNI enforces them', () => {
  let kc: KubeConfig
  let t: TestContext
  let createdAwsNode = false

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(kube!.kubeconfigPath)
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
    await kc.makeApiClient(NetworkingV1Api).createNamespacedNetworkPolicy({
      namespace,
      body: { metadata: { name: 'default-deny-ingress' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    })
    t = await testContext({ env: { kubeconfig: kube!.kubeconfigPath, namespace } })
  })
  afterAll(async () => {
    t?.cleanup()
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => {})
    if (createdAwsNode)
      await kc
        .makeApiClient(AppsV1Api)
        .deleteNamespacedDaemonSet({ name: 'aws-node', namespace: 'kube-system' })
        .catch(() => {})
  })

  const check = async () => {
    const o = { services: [], windowMinutes: 15, timeoutMs: 5000, narrowed: false }
    return (await runChecks(t.ctx, [networkPoliciesCheck(new KubeView(t.ctx, namespace), o)]))[0]!
  }
  const awsNode = (enabled: boolean) => ({
    metadata: { name: 'aws-node', namespace: 'kube-system' },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'aws-node' } },
      template: {
        metadata: { labels: { 'k8s-app': 'aws-node' } },
        spec: {
          containers: [
            { name: 'aws-node', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.2' },
            {
              name: 'aws-network-policy-agent',
              image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon/aws-network-policy-agent:v1.1.6',
              args: [`--enable-network-policy=${enabled}`, '--enable-ipv6=false'],
            },
          ],
        },
      },
    },
  })

  it('not the VPC CNI: a warning; the agent off: a failure naming the add-on setting; on: a pass', async () => {
    const apps = kc.makeApiClient(AppsV1Api)
    const existing = await apps.readNamespacedDaemonSet({ name: 'aws-node', namespace: 'kube-system' }).catch(() => undefined)
    if (!existing) expect(await check()).toMatchObject({ status: 'warn', detail: expect.stringContaining('no aws-node DaemonSet') })

    await apps.createNamespacedDaemonSet({ namespace: 'kube-system', body: awsNode(false) })
    createdAwsNode = true
    const off = await check()
    expect(off.status).toBe('fail')
    expect(off.detail).toBe(
      `1 NetworkPolicy object(s) in ${namespace}, but NOT enforced: the VPC CNI's network policy agent is off (aws-node without --enable-network-policy=true) — set enableNetworkPolicy in the vpc-cni add-on's configuration (terraform) and apply`,
    )
    await apps.replaceNamespacedDaemonSet({ name: 'aws-node', namespace: 'kube-system', body: awsNode(true) })
    expect(await check()).toMatchObject({ status: 'pass', detail: `1 NetworkPolicy object(s) in ${namespace}, enforced by the VPC CNI network policy agent` })
  })
})
