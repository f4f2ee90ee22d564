import type { CheckReport } from '../checks/run.js'
import type { Change } from '../changes/what-changed.js'
import type { Context } from './types.js'

/**
 * The command an on-call engineer runs after a FAIL, ready to paste (`--env` included). A
 * service that fails after a rollout in the window is rolled back; without a rollout to blame,
 * the command shows the evidence (logs, describe) instead.
 */
export function nextStepFor(ctx: Context, r: CheckReport, rollouts: Map<string, Change>): string {
  const ns = `-n ${ctx.env.namespace}`
  const region = `--region ${ctx.env.region}`
  const rollbackable = (names: string[]): string[] => names.filter((n) => rollouts.has(n) && !rollouts.get(n)!.rollback)
  const named = servicesNamed(ctx, r)
  const rollback = (names: string[]): string => `autolytiq rollback --env ${ctx.envName} --service ${names.join(' --service ')}`
  const refresh = `kubectl ${ns} annotate externalsecret --all force-sync=$(date +%s) --overwrite`
  const prefix = r.id.split('.')[0]
  if (prefix === 'health' || prefix === 'traffic') {
    const s = r.services?.[0] ?? ''
    return rollbackable([s]).length ? rollback([s]) : `kubectl ${ns} logs deployment/${s} --tail 50`
  }
  switch (r.id) {
    case 'k8s.deployments':
    case 'k8s.pods': {
      const back = rollbackable(named)
      if (back.length) return rollback(back)
      return named.length ? `kubectl ${ns} describe deployment ${named.join(' ')}` : `kubectl ${ns} get pods -o wide`
    }
    case 'k8s.hpa':
    case 'k8s.pdb':
      return `autolytiq deploy --env ${ctx.envName} --only k8s.deploy`
    case 'k8s.nodes':
      return 'kubectl describe nodes'
    case 'k8s.pvcs':
      return `kubectl ${ns} describe pvc`
    case 'k8s.external-secrets':
      return refresh
    case 'tls.api':
      // ACM renews a DNS-validated certificate by itself as long as its validation records exist; the step re-checks both.
      return `autolytiq deploy --env ${ctx.envName} --only acm.certificate`
    case 'http.redirect':
      return `autolytiq deploy --env ${ctx.envName} --only k8s.deploy`
    case 'dns.api':
      return `autolytiq deploy --env ${ctx.envName} --only dns.records`
    case 'database.rds':
      return `aws rds describe-db-clusters ${region} --query 'DBClusters[].[DBClusterIdentifier,Status]'`
    case 'database.select':
    case 'redis.ping':
      // Credentials come from the synced Secret: a stale one is the usual cause after a rotation or a restore.
      if (/secret/i.test(r.detail)) return refresh
      return r.id === 'redis.ping' ? `aws elasticache describe-replication-groups ${region}` : `aws rds describe-db-clusters ${region}`
    case 'monitoring.alerts': {
      const back = rollbackable(named)
      if (back.length) return rollback(back)
      return `curl -s ${ctx.env.prometheusUrl ?? 'http://prometheus:9090'}/api/v1/alerts`
    }
    case 'monitoring.targets':
    case 'monitoring.alertmanager':
    case 'monitoring.receivers':
    case 'monitoring.grafana':
      return `autolytiq deploy --env ${ctx.envName} --only monitoring.deploy`
  }
  return `kubectl ${ns} get events --sort-by=.lastTimestamp`
}

/** Catalog services a check's detail names (pods are named after their Deployment). */
function servicesNamed(ctx: Context, r: CheckReport): string[] {
  const names = [...ctx.catalog.names].sort((a, b) => b.length - a.length)
  const found = new Set<string>()
  for (const m of r.detail.matchAll(/([a-z0-9][a-z0-9-]*)/g)) {
    const word = m[1]!
    const hit = names.find((n) => word === n || word.startsWith(`${n}-`))
    if (hit) found.add(hit)
  }
  return ctx.catalog.names.filter((n) => found.has(n))
}
