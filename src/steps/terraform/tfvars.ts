import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { writeFileAtomic } from '../../engine/state.js'
import { workDir } from '../../engine/context.js'
import type { Context, Step } from '../../engine/types.js'

const params = z.object({}).strict()

export function tfvarsPath(ctx: Context): string {
  return join(workDir(ctx.root, ctx.envName), 'terraform.tfvars.json')
}

/** Plan 2.2's terraform.tfvars, derived from autolytiq.yaml so the two can never disagree. */
export function renderTfvars(ctx: Context): string {
  const e = ctx.env
  const vars = {
    aws_region: e.region,
    environment: ctx.envName,
    domain_name: e.domain,
    api_domain: e.apiDomain,
    cluster_name: e.eksCluster,
    dr_region: e.drRegion,
    alert_email: e.alertEmail,
    services: ctx.catalog.names,
    ...e.terraformVars,
  }
  return JSON.stringify(vars, null, 2) + '\n'
}

/** Writes terraform.tfvars.json from autolytiq.yaml (no secrets in it); returns its path. */
export function writeTfvars(ctx: Context): string {
  const path = tfvarsPath(ctx)
  writeFileAtomic(path, renderTfvars(ctx), 0o644)
  return path
}

export const terraformTfvars: Step<z.infer<typeof params>> = {
  id: 'terraform.tfvars',
  title: 'Terraform variables for this environment',
  description: 'Plan 2.2: writes terraform.tfvars.json from autolytiq.yaml and the service catalog into .autolytiq/work/<env>/ (no secrets).',
  danger: 'mutating',
  params,
  async plan(ctx) {
    return [`write ${tfvarsPath(ctx)}:`, ...renderTfvars(ctx).trimEnd().split('\n').map((l) => `  ${l}`)]
  },
  async check(ctx) {
    const path = tfvarsPath(ctx)
    if (!existsSync(path)) return { status: 'todo', detail: 'not written yet' }
    if (readFileSync(path, 'utf8') !== renderTfvars(ctx)) return { status: 'drift', detail: `${path} differs from autolytiq.yaml` }
    return { status: 'done', outputs: { path } }
  },
  async run(ctx) {
    return { path: writeTfvars(ctx) }
  },
  async verify(ctx) {
    JSON.parse(readFileSync(tfvarsPath(ctx), 'utf8'))
  },
}
