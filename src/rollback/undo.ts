import type * as k8s from '@kubernetes/client-node'
import { userInfo } from 'node:os'
import { UserError } from '../engine/errors.js'
import type { Context } from '../engine/types.js'
import {
  CHANGE_CAUSE,
  ROLLBACK_ANNOTATION,
  annotationsForRestore,
  changeCause,
  generationGuard,
  imagesOf,
  readDeployment,
  replicaSetsOf,
  revisionOf,
  sameImages,
  templateWithoutHash,
  templatesEqual,
  type Images,
  type WorkloadChange,
} from './workloads.js'

/** Recorded on the Deployment by every undo: lets the next `rollback --service` see it would undo the undo. */
export interface RollbackRecord {
  from: Images
  to: Images
  fromRevision?: number
  at: string
  by: string
  runId: string
}

function readRecord(d: k8s.V1Deployment): RollbackRecord | undefined {
  const raw = d.metadata?.annotations?.[ROLLBACK_ANNOTATION]
  if (!raw) return undefined
  try {
    const r = JSON.parse(raw) as RollbackRecord
    return r && typeof r.from === 'object' && typeof r.to === 'object' ? r : undefined
  } catch {
    return undefined
  }
}

function history(rss: k8s.V1ReplicaSet[]): string {
  return rss
    .map((rs) => `${revisionOf(rs.metadata)} (${Object.values(imagesOf(rs.spec?.template?.spec)).join(', ')})`)
    .reverse()
    .slice(0, 8)
    .join('; ')
}

/**
 * `kubectl rollout undo deployment/NAME [--to-revision=N]`, through the API: find the ReplicaSet
 * carrying the target revision, copy its pod template (minus pod-template-hash) into the
 * Deployment and take its annotations, as kubectl's DeploymentRollbacker does. The Deployment
 * controller then rolls out that template and gives its ReplicaSet the next revision number.
 *
 * Read-only: returns the change; applyChange() sends it.
 */
export async function planUndo(ctx: Context, namespace: string, name: string, toRevision?: number): Promise<WorkloadChange> {
  const d = await readDeployment(ctx, namespace, name)
  if (d.spec?.paused)
    throw new UserError(
      `Deployment ${name} is paused; a paused Deployment cannot be rolled back`,
      `resume it first: \`kubectl -n ${namespace} rollout resume deployment/${name}\``,
    )
  const rss = await replicaSetsOf(ctx, d)
  const current = revisionOf(d.metadata)
  const before = imagesOf(d.spec?.template?.spec)
  const base = { service: name, kind: 'Deployment' as const, namespace, action: 'undo' as const, fromRevision: current, before, replicas: d.spec?.replicas }

  let target: k8s.V1ReplicaSet | undefined
  if (toRevision !== undefined) {
    target = rss.find((rs) => revisionOf(rs.metadata) === toRevision)
    if (!target)
      throw new UserError(
        `${name} has no revision ${toRevision}; nothing was changed`,
        rss.length ? `revisions kept (newest first): ${history(rss)}` : `${name} has no rollout history (no ReplicaSets)`,
      )
  } else {
    // kubectl takes the second-highest revision, whatever the current one is.
    const revisions = rss.map((rs) => revisionOf(rs.metadata) ?? 0).sort((a, b) => b - a)
    const previous = revisions[1]
    target = previous === undefined ? undefined : rss.find((rs) => revisionOf(rs.metadata) === previous)
    if (!target)
      throw new UserError(
        `${name} has no earlier revision to roll back to (history: ${history(rss) || 'none'}); nothing was changed`,
        `deploy a known-good image instead: \`autolytiq rollback --env ${ctx.envName} --image-tag <tag> --service ${name}\``,
      )
  }
  const targetRevision = revisionOf(target.metadata)
  const after = imagesOf(target.spec?.template?.spec)
  const call = `PATCH apps/v1 namespaces/${namespace}/deployments/${name} (json-patch: spec.template := ReplicaSet ${target.metadata?.name} revision ${targetRevision})`
  if (templatesEqual(target.spec?.template, d.spec?.template))
    return { ...base, toRevision: targetRevision, after, call, patch: [], noop: `current template already matches revision ${targetRevision}` }

  if (toRevision === undefined) guardAgainstUndoingAnUndo(d, name, before, after, rss)

  const record: RollbackRecord = { from: before, to: after, fromRevision: current, at: new Date().toISOString(), by: userInfo().username, runId: ctx.runId }
  const annotations = {
    ...annotationsForRestore(d, target),
    [CHANGE_CAUSE]: changeCause(ctx, `undo to revision ${targetRevision}`, after),
    [ROLLBACK_ANNOTATION]: JSON.stringify(record),
  }
  return {
    ...base,
    toRevision: targetRevision,
    after,
    call,
    patch: [
      generationGuard(d),
      { op: 'replace', path: '/spec/template', value: templateWithoutHash(target.spec?.template) },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ],
  }
}

/**
 * `kubectl rollout undo` twice puts the bad release back. When the Deployment runs what the last
 * autolytiq rollback restored, and "previous" is what that rollback removed, refuse and say how
 * to do it on purpose.
 */
function guardAgainstUndoingAnUndo(d: k8s.V1Deployment, name: string, before: Images, after: Images, rss: k8s.V1ReplicaSet[]): void {
  const last = readRecord(d)
  if (!last || !sameImages(last.to, before) || !sameImages(last.from, after)) return
  throw new UserError(
    `${name} was already rolled back at ${last.at} by ${last.by} (from ${Object.values(last.from).join(', ')} to ${Object.values(last.to).join(', ')}); ` +
      `rolling back again would re-deploy ${Object.values(after).join(', ')}. Nothing was changed`,
    `to go further back pick a revision with --to-revision (newest first: ${history(rss)}), or --image-tag <tag>`,
  )
}
