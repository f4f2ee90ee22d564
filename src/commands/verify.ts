import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, envFlag, jsonFlag } from '../cli/base.js'
import { verify } from '../engine/verify.js'
import { renderChecks } from '../render/checks.js'
import { duration } from '../render/table.js'

export default class Verify extends BaseCommand {
  static override summary = 'Tell the truth about every layer of a running environment, in seconds.'
  static override description = describe(
    [
      'Runs every read-only check at once, each with its own timeout, all under one deadline:',
      'service health through the API, TLS (chain, host, expiry), HTTP→HTTPS redirect, DNS → ingress,',
      'Kubernetes (Deployments, pods, restarts, HPAs, PDBs, Warning events, nodes), RDS and SELECT 1,',
      'Redis PING over TLS with AUTH, Prometheus targets and firing alerts, Alertmanager and Grafana.',
      'Output is grouped by layer. Takes no lock: safe to run beside a deploy during an incident.',
      'Exit 1 when any check fails; warnings alone exit 0.',
    ].join(' '),
  )
  static override examples = [
    '<%= config.bin %> verify --env prod',
    '<%= config.bin %> verify --env prod --service deal-service --report incident-1234.md',
    '<%= config.bin %> verify --env sandbox --json --timeout 15',
  ]
  static override flags = {
    env: envFlag,
    service: Flags.string({ char: 's', multiple: true, description: 'only this service, the gateway in front of it and its data stores (repeatable)' }),
    report: Flags.string({ description: 'also write a Markdown report for the incident ticket', helpValue: 'FILE.md' }),
    timeout: Flags.integer({ description: 'overall deadline in seconds (default 30); each check also has its own limit', min: 1 }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Verify)
    this.json = flags.json
    const r = await verify({ env: flags.env, services: flags.service ?? [], timeoutSeconds: flags.timeout, reportFile: flags.report })
    if (flags.json) this.outJson({ ok: r.result !== 'fail', ...r })
    else {
      const scope = r.services.length ? ` (${r.services.join(', ')})` : ''
      this.out(renderChecks(r.checks, `Verify ${r.environment} ${r.release}${scope} — ${r.checks.length} checks in ${duration(r.durationMs)}`))
      if (r.reportFile) this.info(`Report written to ${r.reportFile}`)
    }
    process.exitCode = r.result === 'fail' ? 1 : 0
  }
}
