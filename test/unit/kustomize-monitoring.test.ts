/**
 * k8s/monitoring built with the real `kubectl kustomize`; alert rules checked by the real
 * promtool, rendered Alertmanager configurations by the real amtool.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { parse } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { loadCatalog } from '../../src/config/catalog.js'
import { kubectlBinary } from '../../src/k8s/kustomize.js'
import { parseManifests, type KubeObject } from '../../src/k8s/objects.js'
import { renderAlertmanagerConfig } from '../../src/steps/monitoring/alertmanager-config.js'
import { REPO } from '../helpers/cli.js'

const catalog = loadCatalog(REPO)
const tmp = mkdtempSync(join(tmpdir(), 'autolytiq-monitoring-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any
const built = execa(kubectlBinary(), ['kustomize', join(REPO, 'k8s/monitoring')]).then((r) => parseManifests(r.stdout, 'k8s/monitoring'))
const configMap = async (prefix: string): Promise<KubeObject & { data: Record<string, string> }> =>
  (await built).find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${prefix}-`)) as Any

describe('k8s/monitoring', () => {
  it('alert rules pass promtool and cover availability, latency, errors, restarts and the database', async () => {
    const rules = (await configMap('prometheus-rules')).data['alert-rules.yml']!
    writeFileSync(join(tmp, 'rules.yml'), rules)
    const r = await execa('promtool', ['check', 'rules', join(tmp, 'rules.yml')])
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/)
    const names = (parse(rules) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((x) => x.alert))
    expect(names).toEqual(
      expect.arrayContaining(['ServiceDown', 'ServiceUnavailable', 'HighLatencyP99', 'HighErrorRate', 'PodRestarting', 'PodCrashLooping', 'DatabaseDown']),
    )
  })

  it('scrapes annotated services with the service name as job (plain scrape configuration, no ServiceMonitors)', async () => {
    const cfg = parse((await configMap('prometheus-config')).data['prometheus.yml']!) as Any
    const job = cfg.scrape_configs.find((j: Any) => j.job_name === 'autolytiq-services')
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'endpoints' }])
    expect(job.relabel_configs).toContainEqual({ source_labels: ['__meta_kubernetes_service_name'], target_label: 'job' })
    expect(cfg.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager.monitoring.svc:9093'])
    expect(cfg.rule_files).toEqual(['/etc/prometheus/rules/*.yml'])
    expect((await built).some((o) => o.kind === 'ServiceMonitor')).toBe(false)
  })

  it('mounts the content-hashed ConfigMaps it generates', async () => {
    const objs = await built
    const prometheus = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'prometheus') as Any
    const volumes = Object.fromEntries(prometheus.spec.template.spec.volumes.map((v: Any) => [v.name, v.configMap?.name]))
    expect(volumes.config).toBe((await configMap('prometheus-config')).metadata.name)
    expect(volumes.rules).toBe((await configMap('prometheus-rules')).metadata.name)
  })

  it('provisions the Prometheus datasource and one dashboard per catalog service', async () => {
    const ds = parse((await configMap('grafana-datasources')).data['datasources.yaml']!) as Any
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus.monitoring.svc:9090', isDefault: true })
    const dashboards = (await configMap('grafana-dashboards')).data
    expect(Object.keys(dashboards).sort()).toEqual(catalog.names.map((n) => `${n}.json`).sort())
    for (const s of catalog.services) {
      const d = JSON.parse(dashboards[`${s.name}.json`]!) as Any
      expect(d.uid).toBe(`autolytiq-${s.name}`)
      expect(d.panels.length).toBeGreaterThan(0)
      expect(JSON.stringify(d.panels)).toContain(s.name)
    }
  })

  it('runs every workload non-root with a read-only root filesystem; Grafana reads its password from the Secret', async () => {
    const objs = await built
    for (const d of objs.filter((o) => o.kind === 'Deployment') as Any[]) {
      expect(d.spec.template.spec.securityContext.runAsNonRoot, d.metadata.name).toBe(true)
      for (const c of d.spec.template.spec.containers) expect(c.securityContext.readOnlyRootFilesystem, `${d.metadata.name}/${c.name}`).toBe(true)
    }
    const grafana = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'grafana') as Any
    expect(grafana.spec.template.spec.containers[0].env).toContainEqual({
      name: 'GF_SECURITY_ADMIN_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'grafana-admin', key: 'admin-password' } },
    })
    const am = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'alertmanager') as Any
    expect(am.spec.template.spec.volumes).toContainEqual({ name: 'config', secret: { secretName: 'alertmanager-config' } })
  })
})

describe('Alertmanager configuration', () => {
  it.each([
    ['with a Slack webhook', 'https://hooks.slack.com/services/T0/B0/abcdefghijklmnop'],
    ['without one', undefined],
  ])('%s passes amtool check-config', async (_what, webhook) => {
    const text = renderAlertmanagerConfig({ envName: 'prod' }, webhook)
    writeFileSync(join(tmp, 'am.yml'), text)
    const r = await execa('amtool', ['check-config', join(tmp, 'am.yml')])
    expect(r.stdout).toMatch(/SUCCESS/)
    const cfg = parse(text) as Any
    expect(cfg.route.group_by).toEqual(['alertname', 'namespace', 'job'])
    expect(Boolean(cfg.receivers[0].slack_configs)).toBe(Boolean(webhook))
  })
})
