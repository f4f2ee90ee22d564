import type { Service } from '../config/catalog.js'
import type { Check, Context } from '../engine/types.js'
import { rdsClusterCheck, selectOneCheck } from './database.js'
import { dnsCheck } from './dns.js'
import { serviceHealthCheck } from './http.js'
import { kubeChecks } from './k8s.js'
import { monitoringChecks } from './monitoring.js'
import { redirectCheck } from './redirect.js'
import { redisPingCheck } from './redis.js'
import { AppSecret } from './secrets.js'
import { DEFAULT_EXPIRY, tlsCheck, type ExpiryThresholds } from './tls.js'
import { DEFAULT_TRAFFIC_THRESHOLDS, trafficChecks } from './traffic.js'

export interface VerifyCheckOptions {
  /** `--service`: narrow to these services and what they depend on. Empty: everything. */
  services?: string[]
  /** Per-check time limits; each check also stops at the run's overall deadline. */
  healthTimeoutMs?: number
  probeTimeoutMs?: number
  /** Restarts and Warning events within this many minutes are reported. */
  windowMinutes?: number
  expiry?: ExpiryThresholds
  /** Judge each service's traffic from Prometheus (`autolytiq verify`; not during go-live, before any traffic). */
  traffic?: boolean
  /** The traffic window (`--window`), in seconds. */
  trafficWindowSeconds?: number
  /** Only these layers (the benchmark measures `services` alone). */
  layers?: string[]
}

export const VERIFY_DEFAULTS = { healthTimeoutMs: 5_000, probeTimeoutMs: 10_000, windowMinutes: 15, trafficWindowSeconds: 300 }

/** The gateway carries every request: a service is unreachable when it is down, whatever the service says. */
const ENTRY_POINT = 'api-gateway'

export interface VerifySelection {
  /** Services whose own checks run (catalog order). */
  services: Service[]
  narrowed: boolean
  needsPostgres: boolean
  needsRedis: boolean
}

/** Which services and dependencies `--service` brings in: the service, the gateway in front, its data stores. */
export function selectForVerify(ctx: Context, names: string[] = []): VerifySelection {
  if (!names.length) return { services: ctx.catalog.services, narrowed: false, needsPostgres: true, needsRedis: true }
  const chosen = ctx.catalog.select(names)
  const withGateway = ctx.catalog.services.filter((s) => chosen.includes(s) || (s.name === ENTRY_POINT && ctx.catalog.names.includes(ENTRY_POINT)))
  const deps = new Set(chosen.flatMap((s) => s.dependsOn))
  return { services: withGateway, narrowed: true, needsPostgres: deps.has('postgresql'), needsRedis: deps.has('redis') }
}

/**
 * Every probe `autolytiq verify` runs, by layer: services (health through the API), traffic
 * (golden signals from Prometheus), edge (TLS, redirect, DNS), kubernetes, database, redis, monitoring. All are read-only and independent,
 * so the caller runs them concurrently (src/checks/run.ts).
 */
export function verifyChecks(ctx: Context, opts: VerifyCheckOptions = {}): Check[] {
  const o = { ...VERIFY_DEFAULTS, ...opts }
  const sel = selectForVerify(ctx, opts.services)
  const deployments = sel.services.filter((s) => s.kind === 'Deployment')
  const secret = new AppSecret(ctx)
  const checks: Check[] = [
    ...deployments.map((s) => serviceHealthCheck(s, o.healthTimeoutMs)),
    ...(o.traffic
      ? trafficChecks(ctx, deployments, {
          windowSeconds: o.trafficWindowSeconds ?? VERIFY_DEFAULTS.trafficWindowSeconds,
          timeoutMs: o.probeTimeoutMs,
          thresholds: { ...DEFAULT_TRAFFIC_THRESHOLDS, ...ctx.env.traffic },
        })
      : []),
    tlsCheck(o.healthTimeoutMs, opts.expiry ?? DEFAULT_EXPIRY),
    redirectCheck(o.healthTimeoutMs),
    dnsCheck(o.healthTimeoutMs),
    ...kubeChecks(ctx, { services: deployments, windowMinutes: o.windowMinutes, timeoutMs: o.probeTimeoutMs, narrowed: sel.narrowed }),
    ...(sel.needsPostgres ? [rdsClusterCheck(o.probeTimeoutMs), selectOneCheck(secret, o.probeTimeoutMs)] : []),
    ...(sel.needsRedis ? [redisPingCheck(secret, o.probeTimeoutMs)] : []),
    ...(sel.narrowed ? [] : monitoringChecks(o.probeTimeoutMs)),
  ]
  return opts.layers ? checks.filter((c) => opts.layers!.includes(c.layer)) : checks
}

/**
 * Loads the heavy client libraries the checks will need before any check's clock starts: on a
 * busy laptop importing @kubernetes/client-node takes seconds of CPU, and that must not be read
 * as a slow endpoint (or fail a health check that was waiting for the event loop).
 */
export async function preloadClients(ctx: Context, checks: Check[]): Promise<void> {
  const layers = new Set(checks.map((c) => c.layer))
  const needs = (...l: string[]): boolean => l.some((x) => layers.has(x))
  // Failures (a broken kubeconfig) are reported by the checks themselves, with context.
  await Promise.allSettled([
    needs('kubernetes', 'database', 'redis') ? ctx.clients.kube.lib() : undefined,
    needs('database') ? import('@aws-sdk/client-rds').then(() => ctx.clients.aws.rds()) : undefined,
    needs('database') ? import('pg') : undefined,
    needs('redis') ? import('ioredis') : undefined,
  ])
}
