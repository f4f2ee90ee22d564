import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { workDir } from '../../engine/context.js'
import { ExternalError } from '../../engine/errors.js'
import type { Context } from '../../engine/types.js'
import type { PlanJson } from './plan.js'
import { planFile, requireTfvars, terraform } from './tf.js'

/**
 * A `terraform apply` killed (SIGKILL, lost machine) while a create call was in flight leaves the
 * object in AWS but not in the state: terraform records a resource only when its create returns
 * (an Aurora instance waits 30 s first). The next plan creates it again and AWS refuses
 * (DBInstanceAlreadyExists). terraform.apply logs which creates started; the next apply imports
 * those its saved plan still creates, when the object exists, before it applies anything
 * (./apply.ts), so the resume adopts them instead of failing.
 */
export const createsLogPath = (ctx: Context): string => join(workDir(ctx.root, ctx.envName), 'terraform.apply.creates')

const CREATING = /^(\S+): Creating\.\.\.$/

/** terraform apply's line handler: appends the creates that start (synchronously: a SIGKILL may follow). */
export function logCreates(ctx: Context): (line: string) => void {
  const path = createsLogPath(ctx)
  return (line) => {
    const t = line.trim()
    const started = CREATING.exec(t)
    if (started) appendFileSync(path, `started ${started[1]}\n`)
  }
}

/**
 * Creates a killed apply started. Those the saved plan still creates are not in the state: the
 * ones still in flight at the kill, and any that completed after terraform last persisted it.
 */
export function unfinishedCreates(ctx: Context): string[] {
  const path = createsLogPath(ctx)
  if (!existsSync(path)) return []
  const started = new Set<string>()
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    const [what, address] = l.split(' ')
    if (what === 'started' && address) started.add(address)
  }
  return [...started]
}

export function forgetCreates(ctx: Context): void {
  rmSync(createsLogPath(ctx), { force: true })
}

type Values = Record<string, unknown>
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)

/** The import id of a resource from its planned values, for the types whose create is not idempotent by name. */
const IMPORT_ID: Record<string, (a: Values) => string | undefined> = {
  aws_rds_cluster_instance: (a) => str(a.identifier),
  aws_rds_cluster: (a) => str(a.cluster_identifier),
  aws_db_subnet_group: (a) => str(a.name),
  aws_eks_cluster: (a) => str(a.name),
  aws_eks_node_group: (a) => (str(a.cluster_name) && str(a.node_group_name) ? `${str(a.cluster_name)}:${str(a.node_group_name)}` : undefined),
  aws_iam_role: (a) => str(a.name),
  aws_iam_policy: (a) => str(a.arn),
  aws_cloudwatch_log_group: (a) => str(a.name),
  aws_kms_alias: (a) => str(a.name),
  aws_s3_bucket: (a) => str(a.bucket),
  aws_ecr_repository: (a) => str(a.name),
  aws_backup_vault: (a) => str(a.name),
  aws_sns_topic: (a) => str(a.arn),
}

/**
 * Imports what a killed apply created but never recorded (unfinishedCreates) and the saved plan
 * creates: returns the addresses adopted. A create that never reached AWS is simply not there
 * ("Cannot import non-existent remote object"); a type without a known import id is left to the
 * apply (its error then names it).
 */
export async function adoptUnfinishedCreates(ctx: Context): Promise<string[]> {
  const unfinished = unfinishedCreates(ctx)
  if (!unfinished.length) return []
  const show = await terraform(ctx, { args: ['show', '-json', '-no-color', planFile(ctx)] })
  const plan = JSON.parse(show.stdout) as PlanJson & { resource_changes?: { address: string; type?: string; change: { actions: string[]; after?: unknown } }[] }
  const tfvars = requireTfvars(ctx)
  const adopted: string[] = []
  for (const rc of plan.resource_changes ?? []) {
    if (!unfinished.includes(rc.address) || rc.change.actions.join() !== 'create') continue
    const id = rc.type ? IMPORT_ID[rc.type]?.((rc.change.after ?? {}) as Values) : undefined
    if (!id) continue
    try {
      await terraform(ctx, { args: ['import', '-input=false', '-no-color', '-lock-timeout=60s', `-var-file=${tfvars}`, rc.address, id] })
      ctx.log(`adopted ${rc.address} (${id}): a killed apply created it but never recorded it`)
      adopted.push(rc.address)
    } catch (err) {
      if (err instanceof ExternalError && /Cannot import non-existent remote object|non-existent/i.test(err.output ?? err.message)) continue
      throw err
    }
  }
  return adopted
}
