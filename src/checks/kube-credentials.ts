import { access, constants, readFile } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { load } from 'js-yaml'
import { which } from '../clients/exec.js'
import { defaultKubeconfig } from '../engine/context.js'
import type { Check, Context } from '../engine/types.js'

interface Named<T> {
  name: string
  [k: string]: T | string
}

async function runnable(command: string): Promise<boolean> {
  if (!isAbsolute(command)) return Boolean(await which(command))
  return access(command, constants.X_OK).then(
    () => true,
    () => false,
  )
}

/**
 * Preflight, honest about tools: the autolytiq-<env> context's user must be able to get a token.
 * autolytiq's own API calls mint the EKS token in-process, but the helm it runs and the
 * engineer's kubectl run the context's exec command; an old `aws eks get-token` entry on a
 * machine without the aws CLI fails there with "spawn aws ENOENT".
 */
export function kubeCredentialsCheck(): Check {
  return {
    id: 'kube.credentials',
    title: 'kubeconfig context can get a cluster token (no aws CLI needed)',
    layer: 'tools',
    timeoutMs: 5_000,
    async run(ctx: Context) {
      if (ctx.env.sandbox) return { status: 'pass', detail: `the sandbox kubeconfig ${ctx.env.kubeconfig ?? ''} (checked by kube.config)` }
      const path = ctx.env.kubeconfig ?? defaultKubeconfig()
      const name = `autolytiq-${ctx.envName}`
      let file: { contexts?: Named<{ user?: string }>[]; users?: Named<{ exec?: { command?: string; args?: string[] } }>[] } | undefined
      try {
        file = load(await readFile(path, 'utf8')) as typeof file
      } catch {
        file = undefined
      }
      const context = file?.contexts?.find((c) => c.name === name)?.context as { user?: string } | undefined
      if (!context) return { status: 'pass', detail: `no ${name} context in ${path} yet: kube.config (phase 2) writes one that runs autolytiq itself` }
      const user = file?.users?.find((u) => u.name === context.user)?.user as { exec?: { command?: string; args?: string[] } } | undefined
      const command = user?.exec?.command
      if (!command) return { status: 'pass', detail: `${name} in ${path} has no exec entry (static credentials)` }
      if (await runnable(command)) return { status: 'pass', detail: `${name}: ${command} ${(user?.exec?.args ?? []).slice(0, 3).join(' ')}` }
      return {
        status: 'fail',
        detail:
          `${name} in ${path} runs \`${command}\`, which is not installed here: helm and kubectl would fail with "spawn ${command} ENOENT"; ` +
          `rewrite it to autolytiq's own token command: \`autolytiq deploy --env ${ctx.envName} --only kube.config\``,
      }
    },
  }
}
