/**
 * Rollouts that fail fast, and --dry-run, on the real control plane: the node simulator turns an
 * image tag containing `crash` into CrashLoopBackOff and `missing` into ImagePullBackOff.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppsV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { KubeClients } from '../../src/clients/kube.js'
import { waitForRollouts, RolloutFailedError } from '../../src/k8s/rollout.js'
import { WORKLOADS_POINT, type WorkloadSnapshot } from '../../src/k8s/workloads.js'
import { watchUntil } from '../harness/kube-wait.js'
import {
  installCrds,
  k8sProject,
  kubeConfigFrom,
  openState,
  resourceVersions,
  runSteps,
  seedEarlierPhases,
  useProject,
  type K8sProject,
} from '../helpers/k8s.js'

const kube = inject('kube')
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq'

/** The runbook with this run's image tag overrides (runbook parameters are fixed per file). */
function writeRunbook(p: K8sProject, imageTags: Record<string, string> = {}): void {
  const rb = {
    name: 'rollout-test',
    title: 'deploy and roll out',
    description: 'k8s.deploy with image overrides, then k8s.rollout',
    phases: [
      {
        id: 'kubernetes',
        number: 5,
        title: 'Kubernetes deployment',
        steps: [
          { uses: 'k8s.namespaces' },
          { uses: 'k8s.deploy', with: { imageTags, pinDigests: false } },
          { uses: 'k8s.rollout', with: { timeoutSeconds: 120 } },
        ],
      },
    ],
  }
  writeFileSync(join(p.root, 'runbooks', 'rollout-test.yaml'), stringify(rb))
}

/** When a pod of `service` first shows `reason` — watched independently of the code under test. */
function firstSeen(kc: KubeConfig, namespace: string, service: string, reason: string): Promise<number> {
  return watchUntil<V1Pod>(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    (p) => (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === reason),
    { labelSelector: `app.kubernetes.io/name=${service}`, timeoutMs: 90_000, what: `${service} ${reason}` },
  ).then(() => Date.now())
}

describe.skipIf(!kube)('rollouts fail fast on the real control plane', () => {
  let project: K8sProject
  let kc: KubeConfig

  beforeAll(async () => {
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
    project = k8sProject(kube!.kubeconfigPath)
    useProject(project)
    await seedEarlierPhases(project)
    kc = kubeConfigFrom(project.kubeconfig)
    writeRunbook(project)
    const first = await runSteps({ runbook: 'rollout-test' })
    expect(first.error, JSON.stringify(first.error)).toBeUndefined()
  })

  afterAll(async () => {
    await execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, 'delete', 'namespace', project.namespace, '--wait=false'], { reject: false })
    project?.cleanup()
  })

  it('--dry-run shows the server-side diff and changes nothing', async () => {
    writeRunbook(project, { 'user-service': 'v1.0.2' })
    const before = await resourceVersions(kc, project.namespace)
    const report = await runSteps({ runbook: 'rollout-test', dryRun: true })
    expect(report.result).toBe('dry-run')
    const deploy = report.steps.find((s) => s.id === 'k8s.deploy')!
    expect(deploy.detail).toMatch(/would change/)
    const plan = deploy.plan!.join('\n')
    expect(plan).toContain(`~ update Deployment ${project.namespace}/user-service`)
    expect(plan).toContain(`spec.template.spec.containers[0].image: "${REGISTRY}/user-service:v1.0.0" → "${REGISTRY}/user-service:v1.0.2"`)
    expect(plan).toMatch(/= \d+ object\(s\) unchanged/)
    expect(plan).not.toMatch(/~ update .*auth-service/)
    expect(await resourceVersions(kc, project.namespace)).toEqual(before)
  })

  it('a CrashLoopBackOff fails the rollout within 10 s of the first crash, naming pod, reason and message', async () => {
    writeRunbook(project, { 'deal-service': 'v1.0.1-crash' })
    const crashed = firstSeen(kc, project.namespace, 'deal-service', 'CrashLoopBackOff')
    const report = await runSteps({ runbook: 'rollout-test' })
    const failedAt = Date.now()
    const detectionMs = failedAt - (await crashed)
    expect(report.result).toBe('failed')
    expect(report.error?.step).toBe('k8s.rollout')
    const msg = report.error!.message
    expect(msg).toMatch(new RegExp(`pod ${project.namespace}/deal-service-[a-z0-9]+-[a-z0-9]+ container deal-service: CrashLoopBackOff; restarts \\d+`))
    expect(msg).toContain('last termination: exit code 1 (Error): panic: simulated crash')
    expect(report.error!.next).toMatch(/autolytiq rollback --env \S+ --service deal-service/)
    expect(detectionMs).toBeLessThan(10_000)

    // k8s.deploy recorded where deal-service was before it changed anything
    const state = await openState(project)
    const point = state.rollbackPoints(WORKLOADS_POINT)[0]!
    const snapshot = point.data as unknown as WorkloadSnapshot
    expect(snapshot.services['deal-service']).toMatchObject({ kind: 'Deployment', image: `${REGISTRY}/deal-service:v1.0.0`, revision: 1 })
    expect(state.state.steps['rollout-test']!['k8s.rollout']!.status).toBe('failed')
  })

  it('an ImagePullBackOff fails the rollout the same way', async () => {
    writeRunbook(project, { 'email-service': 'v1.0.1-missing' })
    const report = await runSteps({ runbook: 'rollout-test' })
    expect(report.result).toBe('failed')
    expect(report.error!.message).toMatch(new RegExp(`pod ${project.namespace}/email-service-\\S+ container email-service: ImagePullBackOff`))
    const kubeClients = new KubeClients({ kubeconfig: project.kubeconfig })
    const err = await waitForRollouts(kubeClients, { namespace: project.namespace, deployments: ['email-service'], timeoutMs: 30_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RolloutFailedError)
    expect((err as RolloutFailedError).failures[0]).toMatchObject({ container: 'email-service', reason: 'ImagePullBackOff' })
    expect((err as Error).message).toContain(`Back-off pulling image "${REGISTRY}/email-service:v1.0.1-missing"`)
  })

  it('rolling forward to a good image succeeds although the old revision was crash-looping', async () => {
    writeRunbook(project, {})
    const report = await runSteps({ runbook: 'rollout-test' })
    expect(report.error, JSON.stringify(report.error)).toBeUndefined()
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'deal-service', namespace: project.namespace })
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(`${REGISTRY}/deal-service:v1.0.0`)
    expect(d.status?.availableReplicas).toBeGreaterThanOrEqual(1)
  })

  it('honours progressDeadlineSeconds when fail-fast is off', async () => {
    const apps = kc.makeApiClient(AppsV1Api)
    const name = 'deadline-probe'
    await apps.createNamespacedDeployment({
      namespace: project.namespace,
      body: {
        metadata: { name },
        spec: {
          progressDeadlineSeconds: 2,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                { name, image: 'registry.invalid/probe:v1-crash', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
              ],
            },
          },
        },
      },
    })
    const kubeClients = new KubeClients({ kubeconfig: project.kubeconfig })
    const err = await waitForRollouts(kubeClients, { namespace: project.namespace, deployments: [name], failFast: false, timeoutMs: 60_000 }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(RolloutFailedError)
    expect((err as Error).message).toMatch(/no progress within progressDeadlineSeconds \(2 s\)/)
  })
})
