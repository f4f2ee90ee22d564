/**
 * The pure decisions behind the Kubernetes steps: field diffs (Secret values hidden), pod failure
 * detection, kubectl's rollout rules, which ReplicaSet a rollout is about, names and paths.
 */
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import { describe, expect, it } from 'vitest'
import { diffObjects, ownedFields } from '../../src/k8s/diff.js'
import { splitImage, ecrRegistry } from '../../src/k8s/inputs.js'
import { layeredKustomization } from '../../src/k8s/kustomize.js'
import { parseManifests, sortForApply } from '../../src/k8s/objects.js'
import { describeFailure, podFailures } from '../../src/k8s/pods.js'
import { currentReplicaSet, deploymentRolloutStatus, podsOf, summarizeWaiting } from '../../src/k8s/rollout.js'
import { renderPlan } from '../../src/k8s/apply.js'
import { checkResult } from '../../src/steps/k8s/apply-step.js'
import { jsonPointerEscape } from '../../src/steps/k8s/manifests.js'
import { migrationJobName } from '../../src/steps/k8s/migrate.js'
import { ingressAddress } from '../../src/steps/k8s/ingress-address.js'

const obj = (kind: string, name: string) => ({ apiVersion: 'v1', kind, metadata: { name } })

describe('diffObjects', () => {
  it('lists changed, added and removed fields, ignoring volatile metadata and status', () => {
    const live = {
      metadata: { name: 'a', resourceVersion: '1', generation: 1, managedFields: [{}], labels: { x: '1' } },
      spec: { replicas: 2, template: { spec: { containers: [{ name: 'a', image: 'a:v1' }] } }, paused: false },
      status: { readyReplicas: 2 },
    }
    const desired = {
      metadata: { name: 'a', resourceVersion: '2', generation: 2, labels: { x: '1', y: '2' } },
      spec: { replicas: 2, template: { spec: { containers: [{ name: 'a', image: 'a:v2' }] } } },
    }
    expect(diffObjects(live, desired)).toEqual(['+ metadata.labels.y: "2"', '~ spec.template.spec.containers[0].image: "a:v1" → "a:v2"', '- spec.paused'])
    expect(diffObjects(live, { ...live, status: { readyReplicas: 0 }, metadata: { ...live.metadata, resourceVersion: '9' } })).toEqual([])
  })

  it('never shows a Secret value, only which key changes', () => {
    const lines = diffObjects({ data: { A: 'b2xk', B: 'c2FtZQ==' } }, { data: { A: 'bmV3', B: 'c2FtZQ==', C: 'YWRkZWQ=' } }, { hideValuesUnder: ['data'] })
    expect(lines).toEqual(['~ data.A: (value hidden)', '+ data.C: (value hidden)'])
    expect(diffObjects({}, { data: { A: 'c2VjcmV0' } }, { hideValuesUnder: ['data'] })).toEqual(['+ data: (value hidden)'])
  })

  it('quotes keys that are not identifiers and caps long diffs', () => {
    expect(diffObjects({ metadata: { annotations: {} } }, { metadata: { annotations: { 'a.io/b': 'x' } } })).toEqual(['+ metadata.annotations["a.io/b"]: "x"'])
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]))
    expect(diffObjects({}, { spec: {} }).length).toBe(1)
    expect(diffObjects({ spec: {} }, { spec: many }, { maxLines: 5 })).toHaveLength(6)
  })

  it('ownedFields reads only the Apply entry of one manager', () => {
    const o = {
      metadata: {
        managedFields: [
          { manager: 'autolytiq', operation: 'Apply', fieldsV1: { a: 1 }, time: 't1' },
          { manager: 'kubectl', operation: 'Update', fieldsV1: { b: 1 } },
        ],
      },
    }
    expect(ownedFields(o, 'autolytiq')).toEqual([{ a: 1 }])
  })
})

describe('podFailures', () => {
  const pod = (statuses: NonNullable<V1Pod['status']>['containerStatuses'], init?: NonNullable<V1Pod['status']>['initContainerStatuses']): V1Pod => ({
    metadata: { name: 'api-7d9-x', namespace: 'prod' },
    status: { containerStatuses: statuses, initContainerStatuses: init },
  })

  it('reports CrashLoopBackOff with restarts and the last termination', () => {
    const f = podFailures(
      pod([
        {
          name: 'api',
          image: 'api:v2',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
          lastState: { terminated: { exitCode: 2, reason: 'Error', message: 'config missing\n' } },
        },
      ]),
    )
    expect(f).toEqual([
      {
        namespace: 'prod',
        pod: 'api-7d9-x',
        container: 'api',
        reason: 'CrashLoopBackOff',
        message: 'back-off 40s',
        restartCount: 4,
        lastTermination: { exitCode: 2, reason: 'Error', message: 'config missing', finishedAt: undefined },
      },
    ])
    expect(describeFailure(f[0]!)).toBe(
      'pod prod/api-7d9-x container api: CrashLoopBackOff; restarts 4; back-off 40s\n  last termination: exit code 2 (Error): config missing',
    )
  })

  it('covers image pulls, config errors and init containers, and ignores ordinary waiting', () => {
    const waiting = (name: string, reason: string) => ({ name, image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason } } })
    const f = podFailures(
      pod([waiting('a', 'ImagePullBackOff'), waiting('b', 'ContainerCreating'), waiting('c', 'CreateContainerConfigError')], [waiting('init', 'ErrImagePull')]),
    )
    expect(f.map((x) => `${x.container}:${x.reason}`)).toEqual(['init:ErrImagePull', 'a:ImagePullBackOff', 'c:CreateContainerConfigError'])
    expect(describeFailure(f[1]!)).toContain('(no termination message; logs unavailable)')
  })
})

describe('deploymentRolloutStatus (kubectl rollout status rules)', () => {
  const dep = (generation: number, status: V1Deployment['status'], replicas = 3): V1Deployment => ({
    metadata: { name: 'deal', generation, annotations: { 'deployment.kubernetes.io/revision': '4' } },
    spec: { replicas, selector: {}, template: {}, progressDeadlineSeconds: 300 },
    status,
  })

  it('walks through the rollout states', () => {
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 1 })).message).toBe('waiting for the new spec to be observed')
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 1, replicas: 3 })).message).toBe('1 of 3 updated replicas')
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 3, replicas: 4 })).message).toBe('1 old replicas pending termination')
    expect(deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message).toBe(
      '2 of 3 updated replicas available',
    )
    const done = deploymentRolloutStatus(dep(2, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))
    expect(done).toMatchObject({ done: true, message: 'rolled out (revision 4)', revision: 4 })
  })

  it('reports an exceeded progress deadline with its length', () => {
    const s = deploymentRolloutStatus(
      dep(2, {
        observedGeneration: 2,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "deal-5" has timed out progressing.' }],
      }),
    )
    expect(s.failed).toBe('no progress within progressDeadlineSeconds (300 s): ReplicaSet "deal-5" has timed out progressing.')
  })

  it("takes the current revision's ReplicaSet and its live pods only", () => {
    const d: V1Deployment = { metadata: { name: 'deal', uid: 'd1', annotations: { 'deployment.kubernetes.io/revision': '2' } } }
    const rs = (name: string, rev: string, owner = 'd1'): V1ReplicaSet => ({
      metadata: {
        name,
        uid: `u-${name}`,
        annotations: { 'deployment.kubernetes.io/revision': rev },
        ownerReferences: [{ uid: owner, name: 'deal', kind: 'Deployment', apiVersion: 'apps/v1' }],
      },
    })
    const sets = [rs('deal-old', '1'), rs('deal-new', '2'), rs('other', '2', 'd2')]
    expect(currentReplicaSet(d, sets)?.metadata?.name).toBe('deal-new')
    const p = (name: string, owner: string, deleting = false): V1Pod => ({
      metadata: {
        name,
        ownerReferences: [{ uid: owner, name: 'x', kind: 'ReplicaSet', apiVersion: 'apps/v1' }],
        deletionTimestamp: deleting ? new Date() : undefined,
      },
    })
    expect(podsOf(sets[1]!, [p('a', 'u-deal-new'), p('b', 'u-deal-old'), p('c', 'u-deal-new', true)]).map((x) => x.metadata?.name)).toEqual(['a'])
  })
})

describe('names, paths and small decisions', () => {
  it('migration Jobs are named from the release within 63 characters', () => {
    expect(migrationJobName('v1.0.0')).toBe('db-migration-v1-0-0')
    expect(migrationJobName(`v1.0.0-${'x'.repeat(80)}`).length).toBeLessThanOrEqual(63)
  })

  it('images split at the tag, not at a registry port', () => {
    expect(splitImage('1.dkr.ecr.us-east-1.amazonaws.com/autolytiq/api:v1.2.3')).toEqual({
      name: '1.dkr.ecr.us-east-1.amazonaws.com/autolytiq/api',
      tag: 'v1.2.3',
    })
    expect(splitImage('localhost:5000/autolytiq/api')).toEqual({ name: 'localhost:5000/autolytiq/api', tag: 'latest' })
    const digest = `sha256:${'ab'.repeat(32)}`
    expect(splitImage(`localhost:5000/autolytiq/api:v1.2.3@${digest}`)).toEqual({ name: 'localhost:5000/autolytiq/api', tag: 'v1.2.3', digest })
    expect(ecrRegistry({ accountId: '222222222222', region: 'eu-west-1' })).toBe('222222222222.dkr.ecr.eu-west-1.amazonaws.com')
  })

  it('the temporary kustomization references the overlay and layers images, namespace and patches', () => {
    const k = layeredKustomization('../../repo/k8s/overlays/prod', {
      namespace: 'autolytiq-prod',
      images: [{ name: 'autolytiq/api', newName: 'reg/autolytiq/api', newTag: 'v1' }],
      patches: [{ target: { kind: 'Ingress', name: 'i' }, ops: [{ op: 'replace', path: '/a', value: 'b' }] }],
    })
    expect(k).toMatchObject({ resources: ['../../repo/k8s/overlays/prod'], namespace: 'autolytiq-prod', images: [{ name: 'autolytiq/api' }] })
    expect((k.patches as { patch: string }[])[0]!.patch).toContain('op: replace')
    expect(jsonPointerEscape('alb.ingress.kubernetes.io/certificate-arn')).toBe('alb.ingress.kubernetes.io~1certificate-arn')
  })

  it('parses manifests, drops the namespace of cluster-scoped kinds and orders kinds like Helm', () => {
    const objs = parseManifests(
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\n---\n---\napiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: s, namespace: n}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n',
      'test',
    )
    expect(objs.find((o) => o.kind === 'ClusterSecretStore')?.metadata.namespace).toBeUndefined()
    expect(sortForApply(objs).map((o) => o.kind)).toEqual(['Namespace', 'ClusterSecretStore', 'Deployment'])
    expect(() => parseManifests('kind: X\n', 'test')).toThrow(/without apiVersion, kind or metadata.name/)
  })

  it('check results: nothing to change is done, only creations are todo, changes are drift', () => {
    const c = (action: 'create' | 'update' | 'unchanged', name: string) => ({
      ref: `Deployment n/${name}`,
      object: obj('Deployment', name) as never,
      action,
      diff: [],
    })
    expect(checkResult([c('unchanged', 'a')]).status).toBe('done')
    expect(checkResult([c('create', 'a'), c('unchanged', 'b')])).toEqual({ status: 'todo', detail: '1 object(s) to create' })
    expect(checkResult([c('update', 'a'), c('create', 'b')])).toEqual({ status: 'drift', detail: 'Deployment n/a differ from the manifests' })
  })

  it('reads the load balancer address from the Ingress status', () => {
    expect(ingressAddress({ status: { loadBalancer: { ingress: [{ hostname: 'k8s-x.elb.amazonaws.com' }] } } })).toEqual({
      hostname: 'k8s-x.elb.amazonaws.com',
      ip: undefined,
    })
    expect(ingressAddress({ status: { loadBalancer: {} } })).toBeUndefined()
  })

  it('groups waiting rollouts by what they wait for', () => {
    expect(
      summarizeWaiting([
        { name: 'a', message: 'does not exist', done: false },
        { name: 'b', message: 'does not exist', done: false },
        { name: 'c', message: '1 of 3 updated replicas', done: false },
        { name: 'd', message: 'rolled out (revision 1)', done: true },
      ]),
    ).toBe('does not exist: a, b; 1 of 3 updated replicas: c')
  })

  it('renders a plan: creations, updates with their diff, unchanged count, one footnote per reason', () => {
    const o = (name: string) => obj('Deployment', name) as never
    const lines = renderPlan([
      { ref: 'Namespace n', object: o('n'), action: 'create', diff: [] },
      { ref: 'Deployment n/a', object: o('a'), action: 'create', diff: [], note: 'namespace n does not exist yet' },
      { ref: 'Deployment n/b', object: o('b'), action: 'create', diff: [], note: 'namespace n does not exist yet' },
      { ref: 'Deployment m/c', object: o('c'), action: 'update', diff: ['~ spec.x: 1 → 2'] },
      { ref: 'Deployment m/d', object: o('d'), action: 'unchanged', diff: [] },
    ])
    expect(lines).toEqual([
      '+ create Namespace n',
      '+ create Deployment n/a *',
      '+ create Deployment n/b *',
      '~ update Deployment m/c',
      '    ~ spec.x: 1 → 2',
      '= 1 object(s) unchanged',
      '* 2 object(s) not validated by the server yet: namespace n does not exist yet (an earlier step of this run creates it)',
    ])
  })
})
