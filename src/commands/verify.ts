import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { parseDuration } from '../config/duration.js'
import { verify, watchVerify, type VerifyRequest, type VerifyResult } from '../engine/verify.js'
import { renderChecks } from '../render/checks.js'
import { writeVerifyReport } from '../render/verify-report.js'
import { duration } from '../render/table.js'
import { renderChanges, renderPods, trendLine } from '../render/verify-sections.js'

export default class Verify extends BaseCommand {
  static override summary = 'Tell the truth about every layer of a running environment, in seconds.'
  static override description = describe(
    [
      'Runs every read-only check at once, each with its own timeout, all under one deadline:',
      'service health through the API, traffic per service from Prometheus (request rate, 5xx ratio, p95, p99',
      'against the go-live baseline and the day before), TLS (chain, host, expiry), HTTP→HTTPS redirect, DNS → ingress,',
      'Kubernetes (Deployments, pods, restarts, HPAs, PDBs, Warning events, nodes), RDS and SELECT 1,',
      'Redis PING over TLS with AUTH, Prometheus targets and firing alerts, Alertmanager and Grafana.',
      'Then: what changed in the last 24 h on every layer, failing pods explained (exit code, last log lines,',
      'events), and after every FAIL the command to run next. Failing layers come first.',
      'Takes no lock: safe to run beside a deploy during an incident.',
      'Exit 1 when any check fails; warnings alone exit 0. With --watch: exit 0 once nothing fails, 1 at --timeout.',
    ].join(' '),
  )
  static override examples = [
    '<%= config.bin %> verify --env prod',
    '<%= config.bin %> verify --env prod --service deal-service --report incident-1234.md',
    '<%= config.bin %> verify --env prod --window 15m --since 6h',
    '<%= config.bin %> verify --env prod --watch --interval 10 --timeout 600',
    '<%= config.bin %> verify --env sandbox --json --timeout 15',
  ]
  static override flags = {
    env: envFlag,
    service: Flags.string({ char: 's', multiple: true, description: 'only this service, the gateway in front of it and its data stores (repeatable)' }),
    report: Flags.string({ description: 'also write a Markdown report for the incident ticket', helpValue: 'FILE.md' }),
    timeout: Flags.integer({
      description: 'overall deadline in seconds (default 30; each check also has its own limit); with --watch: how long to keep watching (default 600)',
      min: 1,
    }),
    window: Flags.string({ description: 'traffic window judged from Prometheus (default 5m)', helpValue: '5m' }),
    since: Flags.string({ description: 'how far back "what changed" looks (default 24h)', helpValue: '24h' }),
    watch: Flags.boolean({
      description: 'verify again every --interval until nothing fails (exit 0) or --timeout passes (exit 1); print only what changed between rounds',
    }),
    interval: Flags.integer({ description: 'with --watch: seconds between rounds', min: 1, default: 10 }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Verify)
    this.json = flags.json
    const req: VerifyRequest = {
      env: flags.env,
      services: flags.service ?? [],
      // With --watch, --timeout bounds the watch; each round keeps the default deadline.
      timeoutSeconds: flags.watch ? undefined : flags.timeout,
      windowSeconds: flags.window ? parseDuration(flags.window, '--window') : undefined,
      sinceSeconds: flags.since ? parseDuration(flags.since, '--since') : undefined,
    }
    const r = flags.watch ? await this.watch(req, flags.interval, flags.timeout ?? 600) : await verify(req)
    if (flags.report) writeVerifyReport(r, flags.report)
    if (flags.json) this.outJson({ ok: r.result !== 'fail', ...r })
    else if (!flags.watch) this.out(render(r))
    if (r.reportFile) this.info(`Report written to ${r.reportFile}`)
    process.exitCode = r.result === 'fail' ? 1 : 0
  }

  /** Rounds until green: the first in full, then only the checks whose status or detail changed. */
  private async watch(req: VerifyRequest, intervalSeconds: number, watchTimeoutSeconds: number): Promise<VerifyResult> {
    let last = new Map<string, string>()
    const r = await watchVerify({ ...req, intervalSeconds, watchTimeoutSeconds }, (round, n) => {
      if (this.json) return
      const now = new Map(round.checks.map((c) => [c.id, c.status]))
      if (n === 1) this.out(render(round))
      else {
        const changed = round.checks.filter((c) => last.get(c.id) !== c.status)
        const at = new Date().toISOString().slice(11, 19)
        this.out(
          changed.length
            ? renderChecks(
                changed,
                `Round ${n} at ${at}Z — ${changed.length} check(s) changed, ${round.checks.filter((c) => c.status === 'fail').length} failing`,
              )
            : `Round ${n} at ${at}Z — no change (${round.checks.filter((c) => c.status === 'fail').length} failing)`,
        )
      }
      last = now
    })
    if (!this.json) this.out(r.result === 'fail' ? `Still failing after ${watchTimeoutSeconds} s.` : `Green: nothing fails (${r.result.toUpperCase()}).`)
    return r
  }
}

function render(r: VerifyResult): string {
  const scope = r.serviceFilter.length ? ` (${r.serviceFilter.join(', ')})` : ''
  const lines = [renderChecks(r.checks, `Verify ${r.environment} ${r.release}${scope} — ${r.checks.length} checks in ${duration(r.durationMs)}`, trendLine)]
  if (r.failingPods?.length) lines.push('', ...renderPods(r.failingPods))
  else if (r.failingPodsError) lines.push('', `Failing pods: could not be read (${r.failingPodsError})`)
  if (r.changes) lines.push('', ...renderChanges(r.changes))
  if (r.nextSteps.length) lines.push('', 'Next steps', ...[...new Set(r.nextSteps.map((n) => n.command))].map((c, i) => `  ${i + 1}. ${c}`))
  return lines.join('\n')
}
