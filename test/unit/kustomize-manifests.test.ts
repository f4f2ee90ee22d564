/**
 * The k8s/ manifests, built with the real `kubectl kustomize`, checked against the service catalog
 * and autolytiq.yaml so neither can drift from the other. (The server-side dry-run of every
 * overlay against the real API server is test/integration/k8s-manifests.test.ts.)
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig } from '../../src/config/environments.js'
import { exec } from '../../src/clients/exec.js'
import { kubectlBinary, kustomizeBuild } from '../../src/k8s/kustomize.js'
import { parseManifests, type KubeObject } from '../../src/k8s/objects.js'
import { imageOverrides, releaseImages } from '../../src/k8s/inputs.js'
import { REPO } from '../helpers/cli.js'

const catalog = loadCatalog(REPO)
const config = loadConfig(REPO)
const ENVS = ['sandbox', 'staging', 'prod'] as const

const builds = new Map<string, Promise<KubeObject[]>>()
/** `kubectl kustomize <dir>`, once per directory (tests only read the result). */
function build(dir: string): Promise<KubeObject[]> {
  if (!builds.has(dir))
    builds.set(
      dir,
      execa(kubectlBinary(), ['kustomize', join(REPO, dir)]).then((r) => parseManifests(r.stdout, dir)),
    )
  return builds.get(dir)!
}

const find = (objs: KubeObject[], kind: string, name: string): KubeObject | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

function treeHash(dir: string): string {
  const h = createHash('sha256')
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else h.update(p).update(readFileSync(p))
    }
  }
  walk(dir)
  return h.digest('hex')
}

describe.each(ENVS)('overlay %s', (envName) => {
  const env = config.environments[envName]!

  it('uses the namespace, host and Secrets Manager names of autolytiq.yaml', async () => {
    const objs = await build(env.kustomizeOverlay)
    for (const o of objs.filter((x) => !['Namespace', 'ClusterSecretStore'].includes(x.kind)))
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(env.namespace)
    expect(find(objs, 'Namespace', env.namespace)?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted')
    // #16 item 14: the ALB controller injects its target-health readiness gate only where asked
    expect(find(objs, 'Namespace', env.namespace)?.metadata.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject']).toBe('enabled')
    expect(find(objs, 'ClusterSecretStore', 'aws-secrets-manager')?.metadata.namespace).toBeUndefined()
    const ing = find(objs, 'Ingress', 'autolytiq-ingress') as Any
    expect(ing.spec.rules[0].host).toBe(env.apiDomain)
    expect(ing.metadata.annotations).toMatchObject({
      'alb.ingress.kubernetes.io/ssl-redirect': '443',
      'alb.ingress.kubernetes.io/listen-ports': '[{"HTTP": 80}, {"HTTPS": 443}]',
      'alb.ingress.kubernetes.io/scheme': 'internet-facing',
      'alb.ingress.kubernetes.io/target-type': 'ip',
    })
    const es = find(objs, 'ExternalSecret', 'autolytiq-secrets') as Any
    expect(es.spec.target.name).toBe('autolytiq-secrets')
    // every remote key is this environment's; the URLs are composed from the fields terraform writes
    const keys = (name: string): string[] =>
      [...new Set((find(objs, 'ExternalSecret', name) as Any).spec.data.map((d: Any) => d.remoteRef.key as string))] as string[]
    expect(keys('autolytiq-secrets').sort()).toEqual(
      ['database', 'external-apis', 'jwt', 'pii-encryption', 'redis', 'resend', 'session'].map((n) => `autolytiq/${envName}/${n}`),
    )
    expect(keys('autolytiq-smtp')).toEqual([`autolytiq/${envName}/smtp`])
    expect(Object.keys(es.spec.target.template.data).sort()).toEqual(
      ['DATABASE_URL', 'JWT_SECRET', 'PII_ENCRYPTION_KEY', 'REDIS_URL', 'RESEND_API_KEY', 'SENTRY_DSN', 'SESSION_SECRET'].sort(),
    )
  })

  it('has every catalog service, and nothing the catalog does not know', async () => {
    const objs = await build(env.kustomizeOverlay)
    const deployments = objs.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)
    expect(deployments.sort()).toEqual([...catalog.deployments.map((s) => s.name), 'postgres-exporter'].sort())
    for (const s of catalog.services) expect(find(objs, 'ServiceAccount', s.name), s.name).toBeDefined()
    const cron = find(objs, 'CronJob', 'data-retention-service') as Any
    expect(cron.spec.schedule).toBe(catalog.get('data-retention-service').schedule)
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].image).toBe('autolytiq/data-retention-service')
  })
})

describe('base: each catalog Deployment', () => {
  it.each(catalog.deployments.map((s) => [s.name, s] as const))('%s matches the catalog and the hardening rules', async (name, svc) => {
    const objs = await build('k8s/base')
    const d = find(objs, 'Deployment', name) as Any
    expect(d, 'Deployment').toBeDefined()
    expect(d.spec.replicas, 'the HPA owns replicas').toBeUndefined()
    expect(d.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name })
    const pod = d.spec.template.spec
    expect(pod.serviceAccountName).toBe(name)
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
    expect(pod.topologySpreadConstraints.map((t: Any) => t.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname'])
    const c = pod.containers[0]
    expect(pod.containers).toHaveLength(1)
    expect(c.name).toBe(name)
    expect(c.image).toBe(`autolytiq/${name}`)
    expect(c.ports).toEqual([{ name: 'http', containerPort: svc.port }])
    expect(c.readinessProbe.httpGet).toEqual({ path: svc.healthPath, port: 'http' })
    // liveness only asks "is the process alive" (a slow dependency must not restart every pod);
    // a startup probe holds it off during slow starts
    expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: 'http' } })
    expect(c.livenessProbe.httpGet).toBeUndefined()
    expect(c.startupProbe).toMatchObject({ tcpSocket: { port: 'http' } })
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120)
    expect(c.imagePullPolicy).toBe('Always')
    expect(c.resources.requests.cpu).toBeDefined()
    expect(c.resources.limits.memory).toBeDefined()
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    // SMTP credentials only where mail is sent (issue 16 item 17)
    expect(c.envFrom).toEqual([{ secretRef: { name: 'autolytiq-secrets' } }, ...(name === 'email-service' ? [{ secretRef: { name: 'autolytiq-smtp' } }] : [])])
    // #16 item 14: keep serving while the ALB deregisters the pod, then get time to drain
    const pause = c.lifecycle?.preStop?.sleep?.seconds
    expect(pause, 'preStop sleep (no shell needed in the image)').toBeGreaterThanOrEqual(15)
    expect(pod.terminationGracePeriodSeconds, 'grace covers the pause and a drain').toBeGreaterThanOrEqual(pause + 30)

    const service = find(objs, 'Service', name) as Any
    expect(service.spec.ports).toEqual([{ name: 'http', port: svc.port, targetPort: 'http' }])
    expect(service.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(svc.port) })
    const hpa = find(objs, 'HorizontalPodAutoscaler', name) as Any
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([svc.replicas!.min, svc.replicas!.max])
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name })
    const pdb = find(objs, 'PodDisruptionBudget', name) as Any
    expect(pdb.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name })
  })

  it('the ALB drains a target for less time than a pod takes to stop', async () => {
    const objs = await build('k8s/base')
    const ing = find(objs, 'Ingress', 'autolytiq-ingress') as Any
    const m = /deregistration_delay\.timeout_seconds=(\d+)/.exec(ing.metadata.annotations['alb.ingress.kubernetes.io/target-group-attributes'] ?? '')
    expect(m, 'deregistration delay set (the default is 300 s)').not.toBeNull()
    for (const d of objs.filter((o) => o.kind === 'Deployment' && catalog.names.includes(o.metadata.name)) as Any[])
      expect(d.spec.template.spec.terminationGracePeriodSeconds, d.metadata.name).toBeGreaterThanOrEqual(Number(m![1]))
  })

  it('every autolytiq container with a read-only root filesystem has a writable /tmp (#16 item 18)', async () => {
    const job = parseManifests(readFileSync(join(REPO, 'k8s/jobs/db-migration.yaml'), 'utf8'), 'k8s/jobs/db-migration.yaml')
    const pods: [string, Any][] = [...(await build('k8s/base')), ...job].flatMap((o: Any) => {
      const spec = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec
      return spec ? [[`${o.kind} ${o.metadata.name}`, spec] as [string, Any]] : []
    })
    const checked: string[] = []
    for (const [what, spec] of pods)
      for (const c of spec.containers.filter((x: Any) => String(x.image).startsWith('autolytiq/') && x.securityContext?.readOnlyRootFilesystem)) {
        const mount = (c.volumeMounts ?? []).find((m: Any) => m.mountPath === '/tmp')
        expect(mount, `${what}: /tmp mount`).toBeDefined()
        expect(spec.volumes.find((v: Any) => v.name === mount.name)?.emptyDir, `${what}: /tmp is an emptyDir`).toBeDefined()
        checked.push(what)
      }
    expect(checked).toContain('Job db-migration')
  })

  it('ingress is denied by default and opened only for the ALB, the namespace and Prometheus', async () => {
    const objs = await build('k8s/base')
    const names = objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name)
    const ingress = names.filter((n) => !n.endsWith('-egress'))
    expect(ingress.sort()).toEqual(['allow-alb-to-api-gateway', 'allow-prometheus-scrape', 'allow-same-namespace', 'default-deny-ingress'])
    expect((find(objs, 'NetworkPolicy', 'default-deny-ingress') as Any).spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] })
  })

  it('egress is denied by default and opened for DNS, the namespace, PostgreSQL/Redis in the VPC and HTTPS', async () => {
    const objs = await build('k8s/base')
    const egress = objs.filter((o) => o.kind === 'NetworkPolicy' && (o as Any).spec.policyTypes.includes('Egress')) as Any[]
    expect(egress.map((p) => p.metadata.name).sort()).toEqual([
      'allow-database-and-redis-egress',
      'allow-dns-egress',
      'allow-https-egress',
      'allow-same-namespace-egress',
      'default-deny-egress',
    ])
    expect(find(objs, 'NetworkPolicy', 'default-deny-egress')!.spec).toEqual({ podSelector: {}, policyTypes: ['Egress'] })
    const ports = (name: string) =>
      (find(objs, 'NetworkPolicy', name) as Any).spec.egress.flatMap((e: Any) => e.ports.map((p: Any) => `${p.protocol}/${p.port}`))
    expect(ports('allow-dns-egress')).toEqual(['UDP/53', 'TCP/53'])
    expect(ports('allow-database-and-redis-egress')).toEqual(['TCP/5432', 'TCP/6379'])
    expect(ports('allow-https-egress')).toEqual(['TCP/443'])
  })
})

describe('the deploy build: a temporary layer over the overlay', () => {
  it('sets images and the certificate ARN without touching a repo file', async () => {
    const before = treeHash(join(REPO, 'k8s'))
    const ctx = { env: config.environments.prod!, catalog }
    const images = releaseImages(ctx, { 'deal-service': 'v1.0.1-hotfix' })
    const cert = 'arn:aws:acm:us-east-1:222222222222:certificate/abc'
    const { objects } = await kustomizeBuild(exec, {
      root: REPO,
      dir: 'k8s/overlays/prod',
      namespace: 'autolytiq-prod',
      images: imageOverrides(ctx, images),
      patches: [
        {
          target: { kind: 'Ingress', name: 'autolytiq-ingress' },
          ops: [{ op: 'replace', path: '/metadata/annotations/alb.ingress.kubernetes.io~1certificate-arn', value: cert }],
        },
      ],
    })
    const image = (name: string): string => ((find(objects, 'Deployment', name) as Any).spec.template.spec.containers[0] as Any).image
    expect(image('api-gateway')).toBe('222222222222.dkr.ecr.us-east-1.amazonaws.com/autolytiq/api-gateway:v1.0.0')
    expect(image('deal-service')).toBe('222222222222.dkr.ecr.us-east-1.amazonaws.com/autolytiq/deal-service:v1.0.1-hotfix')
    expect((find(objects, 'CronJob', 'data-retention-service') as Any).spec.jobTemplate.spec.template.spec.containers[0].image).toBe(
      '222222222222.dkr.ecr.us-east-1.amazonaws.com/autolytiq/data-retention-service:v1.0.0',
    )
    expect(find(objects, 'Ingress', 'autolytiq-ingress')!.metadata.annotations!['alb.ingress.kubernetes.io/certificate-arn']).toBe(cert)
    expect(find(objects, 'ClusterSecretStore', 'aws-secrets-manager')!.metadata.namespace).toBeUndefined()
    expect(treeHash(join(REPO, 'k8s'))).toBe(before)
  })

  it('names the overlay when it has no kustomization', async () => {
    await expect(kustomizeBuild(exec, { root: REPO, dir: 'k8s/overlays/nowhere' })).rejects.toThrow(/no kustomization\.yaml in .*k8s\/overlays\/nowhere/)
  })
})
