import { describe, expect, it } from 'vitest'
import { imagesPublish } from '../../src/steps/aws/images.js'
import type { Context } from '../../src/engine/types.js'

// Issue #16 item 13: the node groups are x86_64 (t3/r5); an image built on an arm64 laptop
// without --platform fails there with "exec format error". No Docker engine runs here, so the
// command is checked as plan() prints it: plan() and run() build it with the same buildArgs().
describe('images.publish builds for the nodes’ platform', () => {
  it('docker build --platform linux/amd64, whatever the machine', async () => {
    const saved = process.env.AUTOLYTIQ_SKIP_BUILD
    delete process.env.AUTOLYTIQ_SKIP_BUILD
    try {
      const ctx = {
        envName: 'prod',
        env: { accountId: '222222222222', region: 'us-east-1', release: 'v1.0.0', images: { source: 'build' } },
        catalog: { services: [{ name: 'deal-service' }] },
      } as unknown as Context
      const plan = await imagesPublish.plan(ctx, { skipBuild: false })
      expect(plan.join('\n')).toContain(
        'docker build --platform linux/amd64 -t 222222222222.dkr.ecr.us-east-1.amazonaws.com/<repository>:v1.0.0 <sourceDir>/<service>',
      )
    } finally {
      if (saved !== undefined) process.env.AUTOLYTIQ_SKIP_BUILD = saved
    }
  })
})
