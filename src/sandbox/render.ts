import { table } from '../render/table.js'
import type { DownResult, StatusResult, UpResult } from './manager.js'

export function renderUp(r: UpResult): string {
  const rt = r.runtime
  const head = r.status === 'already-running' ? 'The sandbox is already running.' : `The sandbox is up (${r.seconds} s).`
  return [
    head,
    '',
    `  API          ${rt.apiUrl}   (HTTP ${rt.apiHttpUrl} redirects)`,
    `  AWS (moto)   ${rt.awsEndpoint}`,
    `  Kubernetes   ${rt.kubeconfig}${rt.sandbox.kube === 'external' ? ' (your cluster)' : ''}`,
    `  DNS          ${rt.dnsServers.join(', ')} (UDP; answers from Route 53 in moto)`,
    `  CA           ${rt.caFile}`,
    `  Prometheus   ${rt.prometheusUrl}`,
    `  Alertmanager ${rt.alertmanagerUrl}`,
    `  Grafana      ${rt.grafanaUrl}`,
    '',
    'Next: autolytiq deploy --env sandbox --yes',
  ].join('\n')
}

export function renderDown(r: DownResult): string {
  if (r.status === 'not-running')
    return r.leftovers.length ? `The sandbox was not running; left over:\n  ${r.leftovers.join('\n  ')}` : 'The sandbox is not running.'
  if (r.leftovers.length) return `The sandbox stopped (${r.seconds} s), but these are still there:\n  ${r.leftovers.join('\n  ')}`
  return `The sandbox is down (${r.seconds} s): no process and no port left behind.`
}

export function renderStatus(s: StatusResult): string {
  if (s.state === 'stopped') return 'The sandbox is not running. Start it with `autolytiq sandbox up`.'
  if (s.state === 'starting') return `The sandbox is starting (supervisor pid ${s.supervisorPid}).`
  const mark = (ok: boolean): string => (ok ? 'ok' : 'DOWN')
  const rows = s.components.map((c) => [
    c.name,
    c.pid ? String(c.pid) : 'supervisor',
    c.port ? `${c.port}/${c.protocol}` : '',
    mark(c.running),
    mark(c.answering),
  ])
  const deadProcs = s.processes.filter((p) => !p.running).map((p) => `${p.name} (pid ${p.pid})`)
  return [
    `The sandbox is ${s.state} (supervisor pid ${s.supervisorPid}, started ${s.startedAt}; Kubernetes ${s.kube}).`,
    `API ${s.endpoints?.apiUrl}`,
    '',
    table(['component', 'pid', 'port', 'process', 'answers'], rows),
    ...(deadProcs.length ? ['', `processes not running: ${deadProcs.join(', ')}`] : []),
  ].join('\n')
}
