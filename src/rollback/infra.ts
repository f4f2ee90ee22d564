import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildContext, workDir } from '../engine/context.js'
import { AutolytiqError, EXIT, StepFailedError, UserError } from '../engine/errors.js'
import type { Prompter } from '../engine/prompt.js'
import { installInterruptHandler } from '../engine/runner.js'
import type { Context } from '../engine/types.js'
import { describePlanChanges, plannedChanges, summarize, type PlanJson } from '../steps/terraform/plan.js'
import { tfvarsPath, writeTfvars } from '../steps/terraform/tfvars.js'
import { backendArgs, commandLine, terraform } from '../steps/terraform/tf.js'
import { describeVersion, listStateVersions, makeCurrent, withTerraformLock, type StateVersion } from './state-versions.js'

export interface InfraRollbackRequest {
  env?: string
  stateVersion: string
  dryRun: boolean
  yes: boolean
  /** Non-interactive runs apply the plan only with this (the second confirmation). */
  apply: boolean
  progress: (line: string) => void
  prompter?: Prompter
}

export interface InfraPlan {
  changes: boolean
  summary: string
  /** terraform plan's own output, for the engineer to read before the second confirmation. */
  text: string
}

export interface InfraRollbackResult {
  environment: string
  runId: string
  bucket: string
  key: string
  versions: StateVersion[]
  chosen: string
  /** The version that was current before (the rollback point: restore it to undo this). */
  previous?: string
  restored: boolean
  /** The new current version (a copy of the chosen one). */
  currentVersion?: string
  plan?: InfraPlan
  applied: boolean
  result: 'dry-run' | 'planned' | 'applied' | 'up-to-date'
  commands: string[]
  note?: string
  exitCode: number
  durationMs: number
}

const initArgs = (ctx: Context): string[] => ['init', '-input=false', '-no-color', '-reconfigure', ...backendArgs(ctx)]
const planPath = (ctx: Context): string => join(workDir(ctx.root, ctx.envName), 'rollback-infra.tfplan')
const verifyPlanPath = (ctx: Context): string => join(workDir(ctx.root, ctx.envName), 'rollback-infra-verify.tfplan')
function planArgs(ctx: Context, out = planPath(ctx)): string[] {
  return ['plan', '-input=false', '-no-color', '-detailed-exitcode', '-lock-timeout=60s', `-var-file=${tfvarsPath(ctx)}`, `-out=${out}`]
}

/** `terraform plan -detailed-exitcode -out=<file>`, summarised from `terraform show -json` (addresses, actions, attribute names). */
async function planTo(ctx: Context, file: string): Promise<InfraPlan> {
  const r = await terraform(ctx, { args: planArgs(ctx, file), okExitCodes: [2], timeoutMs: 20 * 60_000 })
  if (r.exitCode === 0) return { changes: false, summary: 'no changes', text: r.stdout }
  const show = await terraform(ctx, { args: ['show', '-json', '-no-color', file] })
  const json = JSON.parse(show.stdout) as PlanJson
  const s = summarize(json.resource_changes ?? [])
  return { changes: true, summary: describePlanChanges({ ...s, ...plannedChanges(json), changes: true, planFile: file }), text: r.stdout }
}

/**
 * terraform.tfvars.json rendered from autolytiq.yaml as it is now, `terraform init`, then the plan.
 * Rendered, not reused: an engineer who reverted a bad change in autolytiq.yaml plans against the
 * reverted variables, never against the file the bad deploy left behind.
 */
async function plan(ctx: Context): Promise<InfraPlan> {
  writeTfvars(ctx)
  ctx.log('terraform init')
  await terraform(ctx, { args: initArgs(ctx) })
  ctx.log('terraform plan')
  return planTo(ctx, planPath(ctx))
}

/**
 * `autolytiq rollback infra --state-version ID`: the plan's "Full Infrastructure Rollback" done
 * safely. Lists the S3 versions of the Terraform state, makes the chosen one current after a
 * typed confirmation (a copy onto the same key, under Terraform's own state lock file),
 * shows what `terraform plan` would then change, and applies only after a second confirmation.
 */
export async function rollbackInfra(req: InfraRollbackRequest): Promise<InfraRollbackResult> {
  const t0 = Date.now()
  const { ctx, lock } = await buildContext({ env: req.env, dryRun: req.dryRun, yes: req.yes, prompter: req.prompter, log: req.progress })
  const { bucket, key } = ctx.env.terraformState
  const versions = await listStateVersions(ctx)
  if (versions.length === 0)
    throw new UserError(
      `s3://${bucket}/${key} has no versions: there is no Terraform state to restore`,
      'check terraformState in autolytiq.yaml (and that bucket versioning is on)',
    )
  const listing = versions.slice(0, 15).map((v) => `  ${describeVersion(v)}`)
  const chosen = versions.find((v) => v.versionId === req.stateVersion && !v.deleteMarker)
  if (!chosen)
    throw new UserError(`s3://${bucket}/${key} has no version ${req.stateVersion}; nothing was changed`, `versions, newest first:\n${listing.join('\n')}`)
  const current = versions.find((v) => v.latest && !v.deleteMarker)
  // A copy of a version has its content and ETag: restoring it again changes nothing.
  const alreadyCurrent = current !== undefined && (current.versionId === chosen.versionId || (current.etag !== undefined && current.etag === chosen.etag))

  const commands = [
    ...(alreadyCurrent
      ? []
      : [
          `s3 PutObject s3://${bucket}/${key}.tflock If-None-Match: * (Terraform's state lock file, if free)`,
          `s3 CopyObject s3://${bucket}/${key} <- versionId ${chosen.versionId}`,
          `dynamodb PutItem ${ctx.env.terraformState.lockTable} LockID=${bucket}/${key}-md5 Digest=<md5 of the restored state> (only if a legacy dynamodb_table digest item exists)`,
          `s3 DeleteObject s3://${bucket}/${key}.tflock`,
        ]),
    `write ${tfvarsPath(ctx)} from autolytiq.yaml (as the terraform.tfvars step does)`,
    commandLine(ctx, initArgs(ctx)),
    commandLine(ctx, planArgs(ctx)),
    `${commandLine(ctx, ['apply', '-input=false', planPath(ctx)])}   (only after a second confirmation)`,
  ]
  const result: InfraRollbackResult = {
    environment: ctx.envName,
    runId: ctx.runId,
    bucket,
    key,
    versions,
    chosen: chosen.versionId,
    previous: current?.versionId,
    restored: false,
    applied: false,
    result: 'dry-run',
    commands,
    exitCode: EXIT.ok,
    durationMs: 0,
  }
  const finish = (): InfraRollbackResult => ({ ...result, durationMs: Date.now() - t0 })
  if (req.dryRun) return finish()
  if (!req.yes && !ctx.prompt.interactive)
    throw new UserError(
      `rollback infra replaces the Terraform state of ${ctx.envName}, and this run cannot ask for confirmation (no terminal, or CI=true); nothing was changed`,
      `review with \`autolytiq rollback infra --env ${ctx.envName} --state-version ${chosen.versionId} --dry-run\`, then re-run it with --yes --apply instead of --dry-run`,
    )

  await lock.acquire(`autolytiq rollback infra --env ${ctx.envName} --state-version ${chosen.versionId}`, ctx.runId)
  const interrupt = installInterruptHandler()
  const run: Context = { ...ctx, signal: interrupt.controller.signal }
  try {
    if (alreadyCurrent) result.note = `version ${chosen.versionId} is already the current state (content identical); nothing to restore`
    else {
      result.currentVersion = await restore(run, chosen, current)
      result.restored = true
    }
    result.plan = await plan(run)
    result.result = 'up-to-date'
    if (!result.plan.changes) return finish()
    result.result = 'planned'
    if (!(await secondConfirmation(run, req, result.plan))) {
      result.note = `${result.note ? `${result.note}; ` : ''}plan not applied: review it, then re-run with --apply (or apply it yourself: ${commandLine(ctx, ['apply', planPath(ctx)])})`
      return finish()
    }
    await applyPlan(run)
    result.applied = true
    result.result = 'applied'
    return finish()
  } catch (err) {
    if (!result.restored || !(err instanceof Error)) throw err
    // Whatever failed after the swap, the engineer must know the state is already the old one.
    throw new StepFailedError(
      `${err.message} — note: state version ${chosen.versionId} is already current (${current?.versionId ?? 'none'} was current before)`,
      err instanceof AutolytiqError && err.next
        ? err.next
        : `to undo the swap: autolytiq rollback infra --env ${ctx.envName} --state-version ${current?.versionId}`,
    )
  } finally {
    interrupt.dispose()
    await lock.release()
  }
}

async function restore(ctx: Context, chosen: StateVersion, current: StateVersion | undefined): Promise<string | undefined> {
  const { bucket, key } = ctx.env.terraformState
  await ctx.prompt.typed(
    [
      `Make Terraform state version ${chosen.versionId} (${chosen.lastModified}) current for s3://${bucket}/${key}${ctx.env.production ? ' (PRODUCTION)' : ''}.`,
      `  Now current: ${current?.versionId ?? 'none'} (${current?.lastModified ?? '?'}); S3 keeps it, so this can be undone the same way.`,
      '  Nothing in AWS changes yet: terraform plan runs next, and applying it needs a second confirmation.',
    ].join('\n'),
    ctx.envName,
    'Terraform state rollback',
  )
  ctx.state.addRollbackPoint({
    kind: 'terraform-state',
    data: { bucket, key, versionId: current?.versionId },
    step: 'rollback.infra',
    runId: ctx.runId,
    at: new Date().toISOString(),
  })
  await ctx.state.save()
  const audit = (result: 'started' | 'ok' | 'failed', detail?: string): Promise<void> =>
    ctx.audit.append({
      runId: ctx.runId,
      environment: ctx.envName,
      action: 'rollback.infra.restore-state',
      params: { bucket, key, from: current?.versionId, to: chosen.versionId },
      result,
      detail,
    })
  await audit('started')
  try {
    const now = await withTerraformLock(ctx, 'autolytiq rollback infra', () => makeCurrent(ctx, chosen.versionId))
    ctx.log(`s3://${bucket}/${key}: version ${chosen.versionId} is current again (as new version ${now})`)
    await audit('ok', `new current version ${now}`)
    return now
  } catch (err) {
    await audit('failed', (err as Error).message)
    throw err
  }
}

async function secondConfirmation(ctx: Context, req: InfraRollbackRequest, p: InfraPlan): Promise<boolean> {
  if (ctx.yes) return req.apply
  await ctx.prompt.typed(`${p.text.trim()}\n\nApply this plan (${p.summary}) to ${ctx.envName}?`, ctx.envName, 'terraform apply after a state rollback')
  return true
}

async function applyPlan(ctx: Context): Promise<void> {
  const audit = (result: 'started' | 'ok' | 'failed', detail?: string): Promise<void> =>
    ctx.audit.append({ runId: ctx.runId, environment: ctx.envName, action: 'rollback.infra.apply', params: { plan: planPath(ctx) }, result, detail })
  await audit('started')
  try {
    await terraform(ctx, { args: ['apply', '-input=false', '-no-color', planPath(ctx)], progress: true, timeoutMs: 90 * 60_000 })
    // Verified when a fresh plan finds nothing left to do.
    ctx.log('terraform plan (verify: nothing left to change)')
    const after = await planTo(ctx, verifyPlanPath(ctx))
    rmSync(verifyPlanPath(ctx), { force: true })
    if (after.changes)
      throw new StepFailedError(
        `terraform apply finished but a new plan still shows changes: ${after.summary}`,
        `inspect: ${commandLine(ctx, ['plan', `-var-file=${tfvarsPath(ctx)}`])}`,
      )
    await audit('ok')
  } catch (err) {
    await audit('failed', (err as Error).message)
    throw err
  }
}
