import * as Flags from '@oclif/core/flags'
import { BaseCommand, describe, jsonFlag } from '../../cli/base.js'
import { findProjectRoot } from '../../config/files.js'
import { sandboxUp } from '../../sandbox/manager.js'
import { renderUp } from '../../sandbox/render.js'

export default class SandboxUp extends BaseCommand {
  static override summary = 'Start the local sandbox: moto, Kubernetes, PostgreSQL, Redis, Prometheus, Alertmanager, DNS and an HTTPS gateway.'
  static override description = describe(
    'Starts, on loopback, everything the `sandbox` environment needs and writes its addresses to <AUTOLYTIQ_HOME>/sandbox/runtime.json. ' +
      'The components run under a supervisor process and keep running after this command returns; stop them with `autolytiq sandbox down`. ' +
      'Already running: says so and changes nothing. The first start builds the Kubernetes control plane (10-25 minutes, cached).',
  )
  static override examples = [
    '<%= config.bin %> sandbox up',
    '<%= config.bin %> sandbox up && <%= config.bin %> deploy --env sandbox --yes',
    '<%= config.bin %> sandbox up --kubeconfig ~/.kube/kind-config   # your own cluster (e.g. kind) instead of the built-in control plane',
    '<%= config.bin %> sandbox up --json',
  ]
  static override flags = {
    kubeconfig: Flags.string({ description: 'use this cluster instead of starting the built-in control plane (no node simulator then)' }),
    timeout: Flags.integer({ description: 'seconds to wait for every component to be ready', default: 300, min: 10 }),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxUp)
    this.json = flags.json
    const result = await sandboxUp(findProjectRoot(), { kubeconfig: flags.kubeconfig, timeoutMs: flags.timeout * 1000, log: (m) => this.info(m) })
    if (flags.json) this.outJson({ ok: true, ...result })
    else this.out(renderUp(result))
  }
}
