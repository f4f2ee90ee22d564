import type { V1Ingress } from '@kubernetes/client-node'
import { z } from 'zod'
import { ExternalError, StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { apiMessage, isNotFound } from '../../k8s/api.js'
import { waitForObject } from '../../k8s/wait.js'
import { APP_INGRESS } from './manifests.js'

const params = z
  .object({
    ingress: z.string().default(APP_INGRESS),
    /** The ALB takes a few minutes to provision. */
    timeoutSeconds: z.number().int().min(1).max(3600).default(900),
  })
  .strict()
type Params = z.infer<typeof params>

/** The load balancer's address from the Ingress status (hostname for an ALB; IP elsewhere). */
export function ingressAddress(ing: V1Ingress | undefined): { hostname?: string; ip?: string } | undefined {
  const first = ing?.status?.loadBalancer?.ingress?.find((i) => i.hostname || i.ip)
  return first ? { hostname: first.hostname, ip: first.ip } : undefined
}

async function readIngress(ctx: Context, name: string): Promise<V1Ingress | undefined> {
  const net = await ctx.clients.kube.networking()
  try {
    return await net.readNamespacedIngress({ name, namespace: ctx.env.namespace })
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw new ExternalError(`cannot read Ingress ${ctx.env.namespace}/${name}: ${apiMessage(err)}`)
  }
}

/** The controller's latest warning about the Ingress (e.g. FailedBuildModel: certificate not found). */
async function lastWarning(ctx: Context, name: string): Promise<string | undefined> {
  try {
    const core = await ctx.clients.kube.core()
    const events = await core.listNamespacedEvent({ namespace: ctx.env.namespace, fieldSelector: `involvedObject.kind=Ingress,involvedObject.name=${name},type=Warning` })
    const last = events.items.sort((a, b) => String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime))).pop()
    return last ? `${last.reason}: ${last.message}` : undefined
  } catch {
    return undefined
  }
}

/** Plan 5.7 / 6.1: waits for the ALB address on the Ingress and saves it for the DNS records. */
export const k8sIngressAddress: Step<Params> = {
  id: 'k8s.ingress-address',
  title: 'Load balancer address of the Ingress',
  description: 'Plan 5.7 and 6.1: watches the Ingress until the AWS Load Balancer Controller publishes the ALB hostname, and records it (phase 6 points DNS at it).',
  danger: 'read',
  params,
  async plan(ctx, p) {
    return [`watch Ingress ${ctx.env.namespace}/${p.ingress} until status.loadBalancer.ingress[0].hostname is set (deadline ${p.timeoutSeconds} s); save it`]
  },
  async check(ctx, p) {
    const addr = ingressAddress(await readIngress(ctx, p.ingress))
    if (!addr) return { status: 'todo', detail: `Ingress ${p.ingress} has no load balancer address yet` }
    return { status: 'done', detail: addr.hostname ?? addr.ip, outputs: { ...addr, ingress: p.ingress } }
  },
  async run(ctx, p) {
    const net = await ctx.clients.kube.networking()
    const namespace = ctx.env.namespace
    const timeoutMs = p.timeoutSeconds * 1000
    const addr = await waitForObject<V1Ingress, { hostname?: string; ip?: string }>(ctx.clients.kube, {
      path: `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`,
      list: (fieldSelector) => net.listNamespacedIngress({ namespace, fieldSelector }),
      name: p.ingress,
      namespace,
      timeoutMs,
      signal: ctx.signal,
      log: ctx.log,
      evaluate: (ing) => {
        const a = ingressAddress(ing)
        if (a) return { done: true, value: a }
        return { done: false, progress: ing ? `Ingress ${p.ingress}: waiting for the load balancer` : `Ingress ${p.ingress} does not exist yet` }
      },
      onTimeout: (last) =>
        new StepFailedError(
          `Ingress ${namespace}/${p.ingress} ${last ? 'got no load balancer address' : 'does not exist'} after ${p.timeoutSeconds} s`,
          last
            ? 'check the AWS Load Balancer Controller (`kubectl -n kube-system logs deploy/aws-load-balancer-controller`) and the Ingress events; re-run to keep waiting'
            : `apply the manifests first: \`autolytiq deploy --env ${ctx.envName} --only k8s.deploy\``,
        ),
    }).catch(async (err: unknown) => {
      const warning = err instanceof StepFailedError ? await lastWarning(ctx, p.ingress) : undefined
      if (warning) throw new StepFailedError(`${err instanceof Error ? err.message : String(err)}; last controller warning: ${warning}`, (err as StepFailedError).next)
      throw err
    })
    ctx.log(`load balancer: ${addr.hostname ?? addr.ip}`)
    return { ...addr, ingress: p.ingress }
  },
}
