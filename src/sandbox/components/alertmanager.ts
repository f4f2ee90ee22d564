import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { freePort } from './ports.js'
import { spawnProcess } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { fetchWithTimeout, waitFor } from './wait.js'

export interface TestAlertmanager {
  /** http://127.0.0.1:PORT */
  url: string
  /** 127.0.0.1:PORT, the form Prometheus' alerting config wants */
  hostPort: string
  port: number
  configPath: string
  stop(): Promise<void>
}

/** Debian names the Alertmanager binary prometheus-alertmanager. */
export const ALERTMANAGER_BIN = process.env.AUTOLYTIQ_ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager'

/**
 * The real Alertmanager with a temp config: one route to a webhook receiver at `webhookUrl`
 * (or a receiver without integrations when none is given), short group waits so notifications
 * go out within about a second. Clustering is disabled (no gossip port).
 */
export async function startAlertmanager(opts: { webhookUrl?: string; timeoutMs?: number } = {}): Promise<TestAlertmanager> {
  const dir = makeTempDir('alertmanager')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const receiver: Record<string, unknown> = { name: 'default' }
  if (opts.webhookUrl) receiver.webhook_configs = [{ url: opts.webhookUrl, send_resolved: true }]
  const config = {
    route: { receiver: 'default', group_by: ['alertname'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
    receivers: [receiver],
  }
  const configPath = join(dir, 'alertmanager.yml')
  writeFileSync(configPath, stringify(config))
  mkdirSync(join(dir, 'data'))
  const proc = spawnProcess({
    name: 'alertmanager',
    command: ALERTMANAGER_BIN,
    args: [
      `--config.file=${configPath}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=', // empty disables HA gossip (would bind :9094)
    ],
    logDir: dir,
  })
  const stop = async () => {
    await proc.stop()
    removeTempDir(dir)
  }
  try {
    await waitFor('alertmanager', async () => (await fetchWithTimeout(`${url}/-/ready`)).ok, {
      timeoutMs: opts.timeoutMs ?? 30_000,
      intervalMs: 100,
      procs: [proc],
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { url, hostPort: `127.0.0.1:${port}`, port, configPath, stop }
}
