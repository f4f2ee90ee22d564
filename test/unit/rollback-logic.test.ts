/** The pure parts of the rollbacks: image references, template comparison, names, secret rewriting, rollback points. */
import { describe, expect, it } from 'vitest'
import { validateTag, withTag } from '../../src/rollback/image-tag.js'
import { parseRollbackPoint } from '../../src/rollback/points.js'
import { annotationsForRestore, setAnnotations, templatesEqual } from '../../src/rollback/workloads.js'
import { repointed, restoredClusterName, secretHost } from '../../src/steps/rollback/db-target.js'
import type { RollbackPoint } from '../../src/engine/state.js'

const point = (kind: string, data: Record<string, unknown>): RollbackPoint => ({ step: 'k8s.deploy', runId: 'r1', at: '2026-01-01T00:00:00Z', kind, data })

describe('image tags', () => {
  it('keeps registry and repository, replaces the tag, drops a digest', () => {
    expect(withTag('123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/deal-service:v2', 'v1')).toBe(
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/deal-service:v1',
    )
    expect(withTag('registry.local:5000/autolytiq/deal-service:v2@sha256:abc', 'v1')).toBe('registry.local:5000/autolytiq/deal-service:v1')
    expect(withTag('registry.local:5000/autolytiq/deal-service', 'v1')).toBe('registry.local:5000/autolytiq/deal-service:v1')
  })

  it('accepts what docker accepts, nothing else', () => {
    expect(() => validateTag('v1.0.0-rc.1')).not.toThrow()
    for (const bad of ['', 'bad tag', '-leading-dash', 'a'.repeat(129), 'v1:2']) expect(() => validateTag(bad), bad).toThrow(/not a valid image tag/)
  })
})

describe('kubectl rollout undo semantics', () => {
  const template = (image: string, hash?: string) => ({
    metadata: { labels: { app: 'deal-service', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'deal-service', image }] },
  })

  it('compares pod templates ignoring the pod-template-hash label (equalIgnoreHash)', () => {
    expect(templatesEqual(template('x:v1', '5d9f'), template('x:v1'))).toBe(true)
    expect(templatesEqual(template('x:v1', '5d9f'), template('x:v2'))).toBe(false)
  })

  it("keeps the Deployment's bookkeeping annotations and takes the rest from the ReplicaSet", () => {
    const deployment = {
      metadata: { annotations: { 'deployment.kubernetes.io/revision': '4', 'kubectl.kubernetes.io/last-applied-configuration': '{}', note: 'current' } },
    }
    const rs = {
      metadata: { annotations: { 'deployment.kubernetes.io/revision': '2', 'deployment.kubernetes.io/desired-replicas': '3', note: 'old', team: 'deals' } },
    }
    expect(annotationsForRestore(deployment, rs)).toEqual({
      'deployment.kubernetes.io/revision': '4',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      note: 'old',
      team: 'deals',
    })
  })

  it('escapes annotation keys as JSON pointers and creates the map when there is none', () => {
    expect(setAnnotations({ metadata: { annotations: {} } }, { 'kubernetes.io/change-cause': 'x' })).toEqual([
      { op: 'add', path: '/metadata/annotations/kubernetes.io~1change-cause', value: 'x' },
    ])
    expect(setAnnotations({ metadata: {} }, { a: 'b' })).toEqual([{ op: 'add', path: '/metadata/annotations', value: { a: 'b' } }])
  })
})

describe('database rollback', () => {
  it('names the restored cluster after the snapshot, deterministically, without growing on a second rollback', () => {
    const first = restoredClusterName('autolytiq-prod', 'rds:autolytiq-prod-2026-06-01-03-00')
    expect(first).toMatch(/^autolytiq-prod-restored-[0-9a-f]{8}$/)
    expect(restoredClusterName('autolytiq-prod', 'rds:autolytiq-prod-2026-06-01-03-00')).toBe(first)
    expect(restoredClusterName(first, 'manual-2')).toMatch(/^autolytiq-prod-restored-[0-9a-f]{8}$/)
    const long = restoredClusterName('a'.repeat(80), 's')
    expect(long.length).toBeLessThanOrEqual(63)
    expect(long).toMatch(/^[a-z][a-z0-9-]*[a-z0-9]$/)
  })

  it('repoints host and url host only: user, password, port and database stay', () => {
    const values = {
      host: 'old.cluster-x.rds.amazonaws.com',
      port: 5432,
      username: 'autolytiq',
      password: 'p@ss:w/rd',
      url: 'postgresql://autolytiq:p%40ss%3Aw%2Frd@old.cluster-x.rds.amazonaws.com:5432/autolytiq?sslmode=require',
    }
    const out = repointed(values, 'new.cluster-y.rds.amazonaws.com')
    expect(out).toMatchObject({ host: 'new.cluster-y.rds.amazonaws.com', port: 5432, username: 'autolytiq', password: 'p@ss:w/rd' })
    expect(out.url).toBe('postgresql://autolytiq:p%40ss%3Aw%2Frd@new.cluster-y.rds.amazonaws.com:5432/autolytiq?sslmode=require')
    expect(secretHost({ url: out.url })).toBe('new.cluster-y.rds.amazonaws.com')
  })
})

describe('rollback points, read defensively', () => {
  it("reads k8s.deploy's k8s.workloads snapshot (one image per service, CronJobs included)", () => {
    const r = parseRollbackPoint(
      point('k8s.workloads', {
        namespace: 'autolytiq-prod',
        services: {
          'deal-service': { kind: 'Deployment', image: 'reg/deal-service:v1', revision: 3, replicas: 4 },
          'data-retention-service': { kind: 'CronJob', image: 'reg/data-retention-service:v1' },
        },
      }),
    )
    expect(r.problems).toEqual([])
    expect(r.recorded).toEqual({
      namespace: 'autolytiq-prod',
      workloads: {
        'deal-service': { kind: 'Deployment', images: { 'deal-service': 'reg/deal-service:v1' }, revision: 3, replicas: 4 },
        'data-retention-service': {
          kind: 'CronJob',
          images: { 'data-retention-service': 'reg/data-retention-service:v1' },
          revision: undefined,
          replicas: undefined,
        },
      },
    })
  })

  it('reads the k8s.deployment-images shape, with a revision written as a string', () => {
    const r = parseRollbackPoint(
      point('k8s.deployment-images', { namespace: 'ns', deployments: { a: { images: { a: 'reg/a:v1', sidecar: 'envoy:1' }, revision: '7' } } }),
    )
    expect(r.recorded?.workloads.a).toEqual({ kind: 'Deployment', images: { a: 'reg/a:v1', sidecar: 'envoy:1' }, revision: 7, replicas: undefined })
  })

  it('skips (and says so) a workload without an image, and an unreadable point', () => {
    expect(parseRollbackPoint(point('k8s.workloads', { namespace: 'ns', services: { a: { kind: 'Deployment', revision: 1 } } })).problems).toEqual([
      'a: no image recorded, left as it is',
    ])
    expect(parseRollbackPoint(point('k8s.workloads', { services: {} })).problems[0]).toMatch(/unreadable/)
  })
})
