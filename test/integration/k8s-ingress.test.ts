/**
 * k8s.ingress-address on the real API server. There is no AWS Load Balancer Controller here: the
 * test writes what it would — a Warning event when it cannot build the ALB, the ALB hostname in
 * the Ingress status when it can.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { waitFor } from '../harness/wait.js'
import { k8sProject, kubeConfigFrom, openState, runSteps, useProject, type K8sProject } from '../helpers/k8s.js'

const kube = inject('kube')

describe.skipIf(!kube)('k8s.ingress-address', () => {
  let project: K8sProject
  const writeRunbook = (timeoutSeconds: number) =>
    writeFileSync(
      join(project.root, 'runbooks', 'ingress-test.yaml'),
      stringify({
        name: 'ingress-test',
        title: 'ingress',
        description: 'k8s.ingress-address alone',
        phases: [{ id: 'kubernetes', number: 5, title: 'Kubernetes deployment', steps: [{ uses: 'k8s.ingress-address', with: { timeoutSeconds } }] }],
      }),
    )

  beforeAll(async () => {
    project = k8sProject(kube!.kubeconfigPath)
    useProject(project)
    const kc = kubeConfigFrom(project.kubeconfig)
    const ns = project.namespace
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } })
    const ing = await kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: ns,
      body: {
        metadata: { name: 'autolytiq-ingress' },
        spec: {
          ingressClassName: 'alb',
          rules: [
            {
              host: 'api.local.autolytiq.test',
              http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api-gateway', port: { number: 8080 } } } }] },
            },
          ],
        },
      },
    })
    await kc.makeApiClient(CoreV1Api).createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { name: `autolytiq-ingress.${Date.now()}`, namespace: ns },
        involvedObject: { kind: 'Ingress', name: 'autolytiq-ingress', namespace: ns, uid: ing.metadata?.uid, apiVersion: 'networking.k8s.io/v1' },
        reason: 'FailedBuildModel',
        message: 'Failed build model due to CertificateNotFound: certificate not found',
        type: 'Warning',
        source: { component: 'ingress' },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    })
  })

  afterAll(async () => {
    await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', project.namespace, '--wait=false'], { reject: false })
    project?.cleanup()
  })

  it('times out naming the controller’s last warning', async () => {
    writeRunbook(2)
    const report = await runSteps({ runbook: 'ingress-test' })
    expect(report.result).toBe('failed')
    expect(report.error!.message).toBe(
      `Ingress ${project.namespace}/autolytiq-ingress got no load balancer address after 2 s; last controller warning: FailedBuildModel: Failed build model due to CertificateNotFound: certificate not found`,
    )
    expect(report.error!.next).toMatch(/aws-load-balancer-controller/)
  })

  it('saves the ALB hostname as soon as the controller publishes it', async () => {
    writeRunbook(60)
    const kc = kubeConfigFrom(project.kubeconfig)
    const running = runSteps({ runbook: 'ingress-test' })
    // publish only once the step is under way (the realistic order: the ALB comes minutes later)
    await waitFor(
      'k8s.ingress-address running',
      async () => (await openState(project)).state.steps['ingress-test']?.['k8s.ingress-address']?.status === 'running',
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    )
    await kc.makeApiClient(NetworkingV1Api).patchNamespacedIngressStatus(
      {
        name: 'autolytiq-ingress',
        namespace: project.namespace,
        body: { status: { loadBalancer: { ingress: [{ hostname: 'k8s-autolytiq-0123456789.us-east-1.elb.amazonaws.com' }] } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    const report = await running
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    expect((await openState(project)).outputs('k8s.ingress-address')).toEqual({
      hostname: 'k8s-autolytiq-0123456789.us-east-1.elb.amazonaws.com',
      ip: undefined,
      ingress: 'autolytiq-ingress',
    })
    const again = await runSteps({ runbook: 'ingress-test' })
    expect(again.steps[0]).toMatchObject({ outcome: 'unchanged', detail: 'k8s-autolytiq-0123456789.us-east-1.elb.amazonaws.com' })
  })
})
