import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Step } from '../../engine/types.js'
import { requireAccount } from './account.js'
import { findHostedZone } from './route53.js'

const params = z.object({}).strict()

/** Plan 1.3 option A: the public hosted zone of the domain; created only after confirmation. */
export const dnsHostedZone: Step<z.infer<typeof params>> = {
  id: 'dns.hosted-zone',
  title: 'Route 53 hosted zone for the domain',
  description:
    'Plan 1.3: finds the public Route 53 hosted zone of the domain; creates it only after confirmation and prints the name servers to set at the registrar.',
  danger: 'mutating',
  params,
  async plan(ctx) {
    return [`route53 ListHostedZonesByName ${ctx.env.domain}`, `route53 CreateHostedZone ${ctx.env.domain} (only if missing, after confirmation)`]
  },
  async check(ctx) {
    const zone = await findHostedZone(ctx, ctx.env.domain)
    if (!zone) return { status: 'todo', detail: `no public hosted zone for ${ctx.env.domain}` }
    return {
      status: 'done',
      detail: `${zone.id}; name servers ${zone.nameServers.join(', ')}`,
      outputs: { hostedZoneId: zone.id, nameServers: zone.nameServers },
    }
  },
  async run(ctx) {
    await requireAccount(ctx)
    // Re-probe: after a crash between create and save, the zone exists and must not be doubled.
    let zone = await findHostedZone(ctx, ctx.env.domain)
    if (!zone) {
      const { CreateHostedZoneCommand } = await import('@aws-sdk/client-route-53')
      const r53 = await ctx.clients.aws.route53()
      ctx.log(`creating hosted zone ${ctx.env.domain}`)
      await r53.send(
        new CreateHostedZoneCommand({
          Name: ctx.env.domain,
          CallerReference: `autolytiq-${ctx.envName}-${ctx.runId}`,
          HostedZoneConfig: { Comment: `autolytiq ${ctx.envName}`, PrivateZone: false },
        }),
      )
      zone = await findHostedZone(ctx, ctx.env.domain)
      if (!zone) throw new StepFailedError(`created hosted zone ${ctx.env.domain} but cannot find it again`)
      // The sandbox's zone is served by its own DNS on loopback: there is no registrar to tell.
      if (!ctx.env.sandbox) ctx.warn(`set these name servers for ${ctx.env.domain} at your registrar: ${zone.nameServers.join(', ')}`)
    }
    ctx.log(`name servers for ${ctx.env.domain}: ${zone.nameServers.join(', ')}`)
    return { hostedZoneId: zone.id, nameServers: zone.nameServers }
  },
}
