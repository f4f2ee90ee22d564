import { z } from 'zod'
import { StepFailedError } from '../../engine/errors.js'
import type { Context, Step } from '../../engine/types.js'
import { commandLine, terraform } from './tf.js'

const params = z.object({}).strict()

/**
 * Outputs later phases read from state (`ctx.state.outputs('terraform.outputs')`). Every
 * environment in terraform/environments/ must define them (test/unit/terraform-hcl.test.ts).
 */
export const REQUIRED_OUTPUTS = [
  'eks_cluster_endpoint',
  'eks_cluster_name',
  'vpc_id',
  'rds_cluster_id',
  'rds_cluster_endpoint',
  'redis_replication_group_id',
  'redis_endpoint',
  'alb_controller_role_arn',
  'external_secrets_role_arn',
  'db_secret_arn',
  'redis_secret_arn',
  'db_subnet_group_name',
  'db_security_group_id',
] as const

export type TerraformOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string> & Record<string, unknown>

interface RawOutput {
  value: unknown
  sensitive: boolean
}

/** Non-sensitive outputs only: state never holds a secret. */
async function readOutputs(ctx: Context): Promise<{ values: Record<string, unknown>; missing: string[]; sensitive: string[] }> {
  const r = await terraform(ctx, { args: ['output', '-json', '-no-color'], timeoutMs: 120_000 })
  const raw = JSON.parse(r.stdout || '{}') as Record<string, RawOutput>
  const values: Record<string, unknown> = {}
  const sensitive: string[] = []
  for (const [k, o] of Object.entries(raw)) {
    if (o.sensitive) sensitive.push(k)
    else values[k] = o.value
  }
  return { values, missing: REQUIRED_OUTPUTS.filter((k) => values[k] === undefined || values[k] === null), sensitive }
}

/** Terraform outputs saved for phases 5-8 (plan 2.6); no hand-copied terraform-outputs.json. */
export function terraformOutputs(ctx: Context): TerraformOutputs | undefined {
  return ctx.state.outputs('terraform.outputs') as TerraformOutputs | undefined
}

/** Plan 2.6: `terraform output -json`, non-sensitive values saved in the environment's state. */
export const terraformOutputsStep: Step<z.infer<typeof params>> = {
  id: 'terraform.outputs',
  title: 'Terraform outputs saved for the later phases',
  description: `Plan 2.6: terraform output -json; the non-sensitive outputs (${REQUIRED_OUTPUTS.slice(0, 4).join(', ')}, …) are saved in the state for phases 5-8.`,
  danger: 'read',
  params,
  async plan(ctx) {
    return [commandLine(ctx, ['output', '-json'])]
  },
  async check(ctx) {
    const { values, missing, sensitive } = await readOutputs(ctx)
    if (missing.length) return { status: 'todo', detail: `missing outputs: ${missing.join(', ')}` }
    const skipped = sensitive.length ? ` (not saved, sensitive: ${sensitive.join(', ')})` : ''
    return { status: 'done', detail: `${Object.keys(values).length} outputs${skipped}`, outputs: values }
  },
  async run(ctx) {
    const { values, missing } = await readOutputs(ctx)
    if (missing.length)
      throw new StepFailedError(
        `terraform state of ${ctx.envName} lacks the outputs ${missing.join(', ')}`,
        `apply the configuration first (\`autolytiq deploy --env ${ctx.envName} --from terraform.plan\`), or add the outputs to ${ctx.env.terraformDir}`,
      )
    return values
  },
}
