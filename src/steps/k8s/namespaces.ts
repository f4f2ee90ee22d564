import { z } from 'zod'
import type { Step } from '../../engine/types.js'
import { applyAndReport, checkObjects, planObjects } from './apply-step.js'
import { buildApp, ofKind } from './manifests.js'

const params = z.object({}).strict()

/**
 * Plan 5.2 without its two failure modes: `kubectl create namespace` fails on a second run, and a
 * namespace made by hand misses the overlay's labels (pod security). Applies the overlay's
 * Namespace objects, renamed to autolytiq.yaml's namespace.
 */
export const k8sNamespaces: Step<z.infer<typeof params>> = {
  id: 'k8s.namespaces',
  title: 'Application namespace',
  description: "Plan 5.2: server-side applies the overlay's Namespace (autolytiq.yaml namespace, restricted pod security) — idempotent, unlike `kubectl create namespace`.",
  danger: 'mutating',
  params,
  async plan(ctx) {
    return planObjects(ctx, ofKind(await buildApp(ctx), 'Namespace'))
  },
  async check(ctx) {
    return checkObjects(ctx, ofKind(await buildApp(ctx), 'Namespace'))
  },
  async run(ctx) {
    const r = await applyAndReport(ctx, ofKind(await buildApp(ctx), 'Namespace'))
    return { namespace: ctx.env.namespace, created: r.created, updated: r.updated }
  },
}
