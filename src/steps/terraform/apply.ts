import { hostname, userInfo } from 'node:os'
import { existsSync } from 'node:fs'
import { z } from 'zod'
import { ExternalError, UserError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { requireAccount } from '../aws/account.js'
import { stateVersion, type PlanBasis } from './basis.js'
import { adoptUnfinishedCreates, forgetCreates, logCreates } from './orphans.js'
import { describePlan, forgetSavedPlan, makePlan, type PlanSummary } from './plan.js'
import { deadApplyReason, inFlightApply, IN_FLIGHT, lockHeld, readTerraformLock, type ApplyInFlight } from './lock.js'
import { commandLine, planFile, sha256File, terraform } from './tf.js'

const params = z.object({}).strict()

function savedPlan(ctx: Context): PlanSummary | undefined {
  return ctx.state.outputs('terraform.plan') as PlanSummary | undefined
}

/**
 * `terraform apply <file>`, recorded first (terraform.apply's outputs.inFlight, saved): host, pids
 * and start, so a lock a killed apply leaves behind can be proved dead (./lock.ts).
 */
async function applyFile(ctx: Context, file: string, planSha256: string | undefined): Promise<void> {
  const inFlight: ApplyInFlight = {
    runId: ctx.runId,
    host: hostname(),
    user: userInfo().username,
    cliPid: process.pid,
    startedAt: new Date().toISOString(),
    planSha256,
  }
  ctx.state.setOutputs('terraform.apply', { [IN_FLIGHT]: inFlight })
  await ctx.state.save()
  let saved: Promise<void> = Promise.resolve()
  try {
    await terraform(ctx, {
      args: ['apply', '-input=false', '-no-color', '-lock-timeout=120s', file],
      progress: true,
      onLine: logCreates(ctx),
      timeoutMs: 85 * 60_000,
      onSpawn: (pid) => {
        ctx.state.setOutputs('terraform.apply', { [IN_FLIGHT]: { ...inFlight, terraformPid: pid } })
        saved = ctx.state.save()
      },
    })
  } catch (err) {
    if (err instanceof ExternalError && /Error acquiring the state lock/i.test(err.message)) throw await lockHeld(ctx)
    throw err
  } finally {
    await saved
  }
}

/** Fail at once (exit 3) on a lock provably left by a dead apply, instead of waiting out -lock-timeout. */
async function refuseDeadLock(ctx: Context): Promise<void> {
  if (!inFlightApply(ctx)) return
  const lock = await readTerraformLock(ctx)
  if (lock && deadApplyReason(ctx, lock)) throw await lockHeld(ctx)
}

const rePlan = (ctx: Context): string => `re-plan and review: \`autolytiq deploy --env ${ctx.envName} --from terraform.plan\``

/** Plan 2.4: applies exactly the saved, reviewed plan; never a fresh, unreviewed one. */
export const terraformApply: Step<z.infer<typeof params>> = {
  id: 'terraform.apply',
  title: 'Terraform apply (the saved plan)',
  description:
    'Plan 2.4: after confirmation (typed for production when the plan destroys anything), terraform apply of the saved plan; the S3 version id of the state object is recorded first as the rollback point.',
  danger: 'mutating',
  params,
  timeoutMs: 90 * 60_000,
  retries: 0,
  async plan(ctx) {
    const ts = ctx.env.terraformState
    return [`s3 HeadObject s3://${ts.bucket}/${ts.key} (record the state version as rollback point)`, commandLine(ctx, ['apply', '-input=false', '-no-color', '-lock-timeout=120s', planFile(ctx)])]
  },
  async check(ctx) {
    const plan = savedPlan(ctx)
    if (!plan) return { status: 'todo', detail: 'no plan yet' }
    if (!plan.changes) return { status: 'done', detail: 'the plan has no changes' }
    if (ctx.state.outputs('terraform.apply')?.appliedPlanSha256 === plan.planSha256) return { status: 'done', detail: 'this plan is already applied' }
    return { status: 'todo', detail: describePlan(plan) }
  },
  async rollbackPoint(ctx) {
    const versionId = await stateVersion(ctx)
    if (!versionId) return undefined
    const ts = ctx.env.terraformState
    return { kind: 'terraform-state', data: { bucket: ts.bucket, key: ts.key, versionId } }
  },
  async run(ctx) {
    const plan = savedPlan(ctx)
    const file = planFile(ctx)
    if (!plan?.changes || !existsSync(file)) throw new UserError(`no saved terraform plan at ${file}`, rePlan(ctx))
    // Apply only what was summarised (and shown) by terraform.plan.
    if (sha256File(file) !== plan.planSha256) throw new UserError(`${file} is not the plan terraform.plan summarised`, rePlan(ctx))
    await requireAccount(ctx)
    const what = `Apply the terraform plan to ${ctx.envName}: ${describePlan(plan)}`
    if (plan.destroy > 0 && ctx.env.production) await ctx.prompt.typed(`${what}, destroying ${plan.destroys.join(', ')}.`, ctx.envName, what)
    else if (!(await ctx.prompt.confirm(`${what}?`, what))) throw new UserError('terraform apply not confirmed; nothing was changed')
    await refuseDeadLock(ctx)
    // Creates a killed apply left in AWS but not in the state are imported first (./orphans.ts);
    // the plan is then made again and must be the reviewed one minus what was adopted.
    let applySha: string | undefined = plan.planSha256
    const adopted = await adoptUnfinishedCreates(ctx)
    if (adopted.length) {
      const again = await makePlan(ctx)
      const reviewed = new Set((plan.resources ?? []).map((r) => `${r.action} ${r.address}`))
      const beyond = (again.resources ?? []).filter((r) => !reviewed.has(`${r.action} ${r.address}`))
      if (beyond.length)
        throw new UserError(
          `after adopting ${adopted.join(', ')} (created by a killed apply), terraform plans changes the reviewed plan did not: ${beyond.map((r) => `${r.action} ${r.address}`).join(', ')}`,
          rePlan(ctx),
        )
      applySha = again.planSha256
      ctx.log(`adopted ${adopted.length} resource(s) a killed apply had created; applying the rest of the reviewed plan: ${describePlan(again)}`)
    }
    forgetCreates(ctx)
    try {
      if (!adopted.length || applySha) await applyFile(ctx, file, applySha)
    } catch (err) {
      // After an apply killed midway, a deploy re-plans in terraform.plan's check(); only a run that
      // skips terraform.plan (--from/--only terraform.apply) meets the stale saved plan here.
      if (err instanceof ExternalError && /Saved plan is stale/i.test(err.message))
        throw new UserError('the saved plan is stale: the state changed since it was made (another apply, or an interrupted one)', rePlan(ctx))
      throw err
    }
    forgetSavedPlan(ctx)
    forgetCreates(ctx)
    const stateVersionId = await stateVersion(ctx)
    // The state this apply left and the inputs its plan was made from: while both stay as they are,
    // a deploy resumed later (killed, or stopped at the checklist) need not plan again (./basis.ts).
    const converged: PlanBasis | null =
      stateVersionId && plan.basis ? { stateVersionId, inputsDigest: plan.basis.inputsDigest, runId: ctx.runId } : null
    return { appliedPlanSha256: plan.planSha256, summary: describePlan(plan), stateVersionId, converged, [IN_FLIGHT]: null }
  },
  summary: (out) => (out && typeof out.summary === 'string' ? `applied: ${out.summary}` : undefined),
}

export { stateVersion } from './basis.js'
