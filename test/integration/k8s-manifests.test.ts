/**
 * Every overlay and the monitoring stack, built with `kubectl kustomize` and applied with a
 * server-side dry-run to the real API server (the project's CRD manifests installed first): the
 * API server's own validation, defaulting and admission (Pod Security "restricted") accept them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { parseAllDocuments } from 'yaml'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { REPO } from '../helpers/cli.js'
import { installCrds } from '../helpers/k8s.js'
import { exec } from '../../src/clients/exec.js'
import { kustomizeBuild } from '../../src/k8s/kustomize.js'

const kube = inject('kube')
const catalog = loadCatalog(REPO)

describe.skipIf(!kube)('manifests against the real API server (server-side dry-run)', () => {
  const kubectl = (args: string[], input?: string) =>
    execa(kube!.kubectlPath, ['--kubeconfig', kube!.kubeconfigPath, ...args], { input, reject: false, timeout: 120_000 })

  beforeAll(async () => {
    await installCrds(kube!.kubectlPath, kube!.kubeconfigPath)
  })

  /**
   * Builds `dir` (in its own namespace when `namespace` is given: other tests use `monitoring`),
   * applies its Namespace for real (a dry-run cannot put objects in a namespace it did not create,
   * and Pod Security reads the live namespace's labels), then dry-runs everything. Conflicts are
   * forced because other test files own the shared cluster-scoped objects; a dry-run changes nothing.
   */
  async function dryRun(dir: string, namespace?: string): Promise<{ kinds: Map<string, string[]>; stdout: string; stderr: string }> {
    const { yaml } = await kustomizeBuild(exec, { root: REPO, dir, namespace })
    const docs = parseAllDocuments(yaml).filter((d) => d.toJS())
    const kinds = new Map<string, string[]>()
    for (const d of docs) {
      const o = d.toJS() as { kind: string; metadata: { name: string } }
      kinds.set(o.kind, [...(kinds.get(o.kind) ?? []), o.metadata.name])
    }
    const nsDoc = docs.find((d) => (d.toJS() as { kind?: string }).kind === 'Namespace')!
    const ns = await kubectl(['apply', '--server-side', '--field-manager=manifest-test', '-f', '-'], nsDoc.toString())
    expect(ns.exitCode, ns.stderr).toBe(0)
    const r = await kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '--field-manager=manifest-test', '-f', '-'], yaml)
    expect(r.exitCode, r.stderr).toBe(0)
    return { kinds, stdout: r.stdout, stderr: r.stderr }
  }

  it.each(['prod', 'staging', 'sandbox'])('overlay %s: every catalog service present, accepted by the API server', async (env) => {
    const { kinds, stdout, stderr } = await dryRun(`k8s/overlays/${env}`)
    for (const s of catalog.deployments) {
      for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceAccount'])
        expect(kinds.get(kind), `${kind} ${s.name}`).toContain(s.name)
    }
    expect(kinds.get('CronJob')).toEqual(['data-retention-service'])
    expect(kinds.get('ExternalSecret')).toEqual(['autolytiq-secrets', 'autolytiq-smtp'])
    expect(kinds.get('ClusterSecretStore')).toEqual(['aws-secrets-manager'])
    expect(kinds.get('Ingress')).toEqual(['autolytiq-ingress'])
    const total = [...kinds.values()].reduce((n, v) => n + v.length, 0)
    expect(stdout.match(/serverside-applied \(server dry run\)/g)?.length).toBe(total)
    expect(stderr).not.toMatch(/would violate PodSecurity/)
  })

  it('monitoring: accepted by the API server', async () => {
    const { kinds, stderr } = await dryRun('k8s/monitoring', `monitoring-dry-${Date.now().toString(36)}`)
    expect(kinds.get('Deployment')?.sort()).toEqual(['alertmanager', 'grafana', 'kube-state-metrics', 'prometheus'])
    expect(stderr).not.toMatch(/would violate PodSecurity/)
  })

  it('the migration Job template is accepted in a restricted namespace', async () => {
    const ns = `autolytiq-migrate-dry-${Date.now().toString(36)}`
    await kubectl(['create', 'namespace', ns])
    await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted'])
    const job = readFileSync(join(REPO, 'k8s/jobs/db-migration.yaml'), 'utf8')
    const r = await kubectl(['-n', ns, 'apply', '--server-side', '--dry-run=server', '-f', '-'], job)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/would violate PodSecurity/)
    await kubectl(['delete', 'namespace', ns, '--wait=false'])
  })
})
