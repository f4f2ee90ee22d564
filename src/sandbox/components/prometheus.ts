import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { freePort } from './ports.js'
import { spawnProcess, type Proc } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { fetchWithTimeout, waitFor } from './wait.js'

export interface ScrapeJob {
  /** One job per service. */
  job: string
  /** host:port */
  targets: string[]
  metricsPath?: string
  scheme?: 'http' | 'https'
  /** Extra target labels (e.g. namespace, the way Kubernetes service discovery labels pods). */
  labels?: Record<string, string>
}

export interface PrometheusTarget {
  labels: Record<string, string>
  scrapeUrl: string
  health: 'up' | 'down' | 'unknown'
  lastError: string
}

export interface TestPrometheus {
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  configPath: string
  /** /api/v1/targets activeTargets */
  targets(): Promise<PrometheusTarget[]>
  /** Waits until every target of `job` has been scraped with the wanted health (default up). */
  waitForTarget(job: string, opts?: { health?: 'up' | 'down'; timeoutMs?: number }): Promise<PrometheusTarget[]>
  stop(): Promise<void>
}

export const PROMETHEUS_BIN = process.env.AUTOLYTIQ_PROMETHEUS_BIN ?? '/usr/bin/prometheus'

/**
 * The real Prometheus (Debian's /usr/bin/prometheus) with a temp config and TSDB. Scrapes every
 * second so target health settles fast. `selfScrape` adds a job 'prometheus' for itself, a
 * target that is always up.
 */
export async function startPrometheus(
  opts: {
    jobs?: ScrapeJob[]
    /** host:port of Alertmanager, e.g. from startAlertmanager().hostPort */
    alertmanager?: string
    /** Alerting/recording rules YAML (a rule_files document). */
    rules?: string
    selfScrape?: boolean
    scrapeIntervalSeconds?: number
    timeoutMs?: number
  } = {},
): Promise<TestPrometheus> {
  const dir = makeTempDir('prometheus')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`
  const jobs = [...(opts.jobs ?? [])]
  if (opts.selfScrape ?? true) jobs.unshift({ job: 'prometheus', targets: [`127.0.0.1:${port}`] })
  const config: Record<string, unknown> = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: jobs.map((j) => ({
      job_name: j.job,
      metrics_path: j.metricsPath ?? '/metrics',
      scheme: j.scheme ?? 'http',
      static_configs: [{ targets: j.targets, ...(j.labels ? { labels: j.labels } : {}) }],
    })),
  }
  if (opts.alertmanager) {
    config.alerting = { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] }
  }
  if (opts.rules) {
    writeFileSync(join(dir, 'rules.yml'), opts.rules)
    config.rule_files = [join(dir, 'rules.yml')]
  }
  const configPath = join(dir, 'prometheus.yml')
  writeFileSync(configPath, stringify(config))
  mkdirSync(join(dir, 'data'))

  const proc = spawnProcess({
    name: 'prometheus',
    command: PROMETHEUS_BIN,
    args: [`--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle'],
    logDir: dir,
  })
  const stop = async () => {
    await proc.stop()
    removeTempDir(dir)
  }
  try {
    await waitFor('prometheus', async () => (await fetchWithTimeout(`${url}/-/ready`)).ok, {
      timeoutMs: opts.timeoutMs ?? 30_000,
      intervalMs: 100,
      procs: [proc],
    })
  } catch (err) {
    await stop()
    throw err
  }

  return {
    url,
    port,
    configPath,
    targets: () => prometheusTargets(url),
    waitForTarget: (job, o = {}) => waitForPrometheusTarget(url, job, { ...o, procs: [proc] }),
    stop,
  }
}

/** Active targets from the HTTP API of the Prometheus at `url`. */
export async function prometheusTargets(url: string): Promise<PrometheusTarget[]> {
  const res = await fetchWithTimeout(`${url}/api/v1/targets?state=active`)
  if (!res.ok) throw new Error(`prometheus /api/v1/targets: HTTP ${res.status}`)
  const body = (await res.json()) as { data: { activeTargets: PrometheusTarget[] } }
  return body.data.activeTargets
}

/**
 * Waits until every target of `job` has been scraped with the wanted health. Works from any
 * process (only needs the URL). Prometheus has no push notification for scrape results, so this
 * polls its API with a deadline; target discovery alone takes about 5 s after startup.
 */
export function waitForPrometheusTarget(
  url: string,
  job: string,
  opts: { health?: 'up' | 'down'; timeoutMs?: number; procs?: Proc[] } = {},
): Promise<PrometheusTarget[]> {
  const health = opts.health ?? 'up'
  return waitFor(
    `prometheus target ${job} ${health}`,
    async () => {
      const ts = (await prometheusTargets(url)).filter((t) => t.labels.job === job)
      return ts.length > 0 && ts.every((t) => t.health === health) ? ts : undefined
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 250, procs: opts.procs },
  )
}
