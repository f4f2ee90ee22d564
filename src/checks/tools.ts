import semver from 'semver'
import { which } from '../clients/exec.js'
import type { Check, Context } from '../engine/types.js'

export interface ToolSpec {
  /** Binaries that satisfy this requirement, first found wins (terraform, else tofu). */
  bins: string[]
  args: string[]
  min?: string
  required: boolean
  why: string
}

/**
 * Phase 1.2 of the plan, reconciled: eksctl and the aws CLI are not needed — the SDK does their
 * work, and the EKS token is minted in-process (kubectl and helm get it from `autolytiq kube-token`
 * through the kubeconfig kube.config writes; the kube.credentials check proves that entry runs).
 */
export const TOOLS: Record<string, ToolSpec> = {
  terraform: { bins: ['terraform', 'tofu'], args: ['version'], min: '1.5.0', required: true, why: 'infrastructure (phase 2)' },
  kubectl: { bins: ['kubectl'], args: ['version', '--client'], min: '1.28.0', required: true, why: 'kustomize build (phase 5)' },
  helm: { bins: ['helm'], args: ['version', '--short'], min: '3.8.0', required: true, why: 'ALB controller and External Secrets (phase 5)' },
  git: { bins: ['git'], args: ['--version'], required: true, why: 'release tag (phase 8)' },
  docker: { bins: ['docker'], args: ['version', '--format', '{{.Server.Version}}'], required: false, why: 'image builds (phase 4; CI builds them otherwise)' },
  gh: { bins: ['gh'], args: ['auth', 'status'], required: false, why: 'GitHub secrets and environments (phase 4)' },
}

function parseVersion(text: string): string | undefined {
  return semver.coerce(text.match(/v?\d+\.\d+(\.\d+)?/)?.[0] ?? '')?.version
}

export function toolCheck(name: string, spec: ToolSpec): Check {
  return {
    id: `tool.${name}`,
    title: `${name}${spec.min ? ` >= ${spec.min}` : ''} (${spec.why})`,
    layer: 'tools',
    timeoutMs: 10_000,
    async run(ctx: Context, signal: AbortSignal) {
      const missingStatus = spec.required ? 'fail' : 'warn'
      for (const bin of spec.bins) {
        const path = await which(bin)
        if (!path) continue
        let out: string
        try {
          const r = await ctx.clients.exec(bin, spec.args, { timeoutMs: 8_000, signal })
          out = `${r.stdout}\n${r.stderr}`
        } catch (err) {
          // docker without an engine, gh not logged in: the binary exists but cannot do its job.
          return { status: missingStatus, detail: `${bin} found at ${path} but not usable: ${(err as Error).message.split('\n').slice(-1)[0]}` }
        }
        const version = parseVersion(out)
        if (spec.min && version && semver.lt(version, spec.min)) return { status: 'fail', detail: `${bin} ${version} is older than ${spec.min}; upgrade it` }
        return { status: 'pass', detail: `${bin} ${version ?? '(version unknown)'} at ${path}` }
      }
      return { status: missingStatus, detail: `${spec.bins.join(' or ')} not found on PATH${spec.required ? '' : ' (optional)'}` }
    },
  }
}

export function toolChecks(names: string[] = Object.keys(TOOLS)): Check[] {
  return names.map((n) => toolCheck(n, TOOLS[n]!))
}
