import { z } from 'zod'
import type { Step } from '../../engine/types.js'
import { rolloutStatuses, summarizeWaiting, waitForRollouts } from '../../k8s/rollout.js'
import { describeFailure } from '../../k8s/pods.js'

const params = z
  .object({
    /** Overall deadline; each Deployment's progressDeadlineSeconds (300 s in k8s/base) applies within it. */
    timeoutSeconds: z.number().int().min(10).max(7200).default(900),
  })
  .strict()

/**
 * Plan 5.6's eight `kubectl rollout status` calls, for every catalog Deployment at once: watches,
 * per-deployment progress, and fail-fast on pods that cannot start.
 */
export const k8sRollout: Step<z.infer<typeof params>> = {
  id: 'k8s.rollout',
  title: 'Rollouts of every catalog Deployment',
  description:
    'Plan 5.6: watches every catalog Deployment concurrently until rolled out; fails fast on CrashLoopBackOff, ImagePullBackOff, ErrImagePull or CreateContainerConfigError with pod, reason, restarts and last termination message; honours progressDeadlineSeconds.',
  danger: 'read',
  params,
  timeoutMs: 2 * 60 * 60_000,
  async plan(ctx, p) {
    const names = ctx.catalog.deployments.map((s) => s.name)
    return [`watch deployments, replicasets and pods in ${ctx.env.namespace} until ${names.length} rollouts finish (deadline ${p.timeoutSeconds} s): ${names.join(', ')}`]
  },
  async check(ctx) {
    const names = ctx.catalog.deployments.map((s) => s.name)
    const statuses = await rolloutStatuses(ctx.clients.kube, ctx.env.namespace, names)
    const failing = statuses.flatMap((s) => s.failures)
    if (failing.length) return { status: 'todo', detail: `failing pods: ${failing.map(describeFailure).join('; ')}` }
    const waiting = statuses.filter((s) => !s.done)
    if (waiting.length) return { status: 'todo', detail: summarizeWaiting(waiting) }
    return {
      status: 'done',
      detail: `${names.length} deployments rolled out`,
      outputs: { revisions: Object.fromEntries(statuses.map((s) => [s.name, s.revision])) },
    }
  },
  async run(ctx, p) {
    const names = ctx.catalog.deployments.map((s) => s.name)
    const done = new Set<string>()
    const results = await waitForRollouts(ctx.clients.kube, {
      namespace: ctx.env.namespace,
      deployments: names,
      timeoutMs: p.timeoutSeconds * 1000,
      signal: ctx.signal,
      onStatus: (s) => {
        if (s.done) done.add(s.name)
        ctx.log(`[${done.size}/${names.length} rolled out] ${s.name}: ${s.message}`)
      },
    })
    return { revisions: Object.fromEntries(results.map((r) => [r.name, r.revision])) }
  },
}
