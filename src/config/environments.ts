import { join } from 'node:path'
import { z } from 'zod'
import { UserError } from '../engine/errors.js'
import { loadYamlFile } from './files.js'

const dnsName = z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$/, 'a lower-case DNS name like api.example.com')
const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region like us-east-1')

const stateBackend = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local') }).strict(),
  z
    .object({
      type: z.literal('s3'),
      bucket: z.string().min(3),
      lockTable: z.string().min(3),
      prefix: z.string().default('autolytiq'),
    })
    .strict(),
])

export const environmentSchema = z
  .object({
    description: z.string().optional(),
    production: z.boolean().default(false),
    /** Endpoints come from the running sandbox (.autolytiq/sandbox/runtime.json). */
    sandbox: z.boolean().default(false),
    region: awsRegion,
    accountId: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    awsProfile: z.string().optional(),
    /** Sandbox only: AWS API endpoint (moto). Never set for real environments. */
    awsEndpoint: z.string().url().optional(),
    domain: dnsName,
    apiDomain: dnsName,
    grafanaDomain: dnsName.optional(),
    eksCluster: z.string().min(1),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes namespace name'),
    terraformDir: z.string().min(1),
    kustomizeOverlay: z.string().min(1),
    drRegion: awsRegion,
    alertEmail: z.string().email(),
    release: z.string().regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'a release tag like v1.0.0'),
    terraformState: z
      .object({
        bucket: z.string().min(3),
        key: z.string().default('infrastructure/terraform.tfstate'),
        lockTable: z.string().min(3),
      })
      .strict(),
    stateBackend: stateBackend.default({ type: 'local' }),
    /** Where the engineer's kubeconfig lives (default ~/.kube/config); the sandbox uses its own. */
    kubeconfig: z.string().optional(),
    /** Health checks go to https://apiDomain unless the sandbox overrides the address. */
    apiUrl: z.string().url().optional(),
    /** Plain-HTTP address of the API for the redirect check; default http://apiDomain (port 80). */
    apiHttpUrl: z.string().url().optional(),
    dnsServers: z.array(z.string()).optional(),
    /**
     * Who publishes the release images to ECR: `build` (images.publish runs docker build/push) or
     * `ci` (the CD workflow does; images.publish only reports, images.verify checks the tags).
     * AUTOLYTIQ_SKIP_BUILD=1 / =0 overrides it for one run.
     */
    images: z
      .object({ source: z.enum(['build', 'ci']).default('build') })
      .strict()
      .default({ source: 'build' }),
    /**
     * This environment's values for single step parameters, over the runbook's `with:` (by step
     * id, validated with the step): `{ load.baseline: { durationSeconds: 30 } }`.
     */
    stepParams: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /** How long images.verify waits for CI to publish the release (the sandbox runs its own CI publisher). */
    imagesWaitSeconds: z.number().int().min(0).max(7200).optional(),
    /** Extra CA bundle for the API's TLS (the sandbox's local CA). */
    caFile: z.string().optional(),
    /** Terraform variables beyond those derived from this file (node sizes, DB class...). */
    terraformVars: z.record(z.unknown()).default({}),
    prometheusUrl: z.string().url().optional(),
    /** verify's traffic thresholds; unset ones default to the alert rules' (5 % 5xx, p99 1 s) and 2× the baseline. */
    traffic: z
      .object({
        errorRatioFail: z.number().min(0).max(1).optional(),
        p99FailSeconds: z.number().positive().optional(),
        warnFactor: z.number().min(1).optional(),
        errorRatioWarnFloor: z.number().min(0).max(1).optional(),
        latencyWarnFloorSeconds: z.number().min(0).optional(),
      })
      .strict()
      .optional(),
    /** How long a new HPA may go without metrics before verify calls it broken (default 180, src/checks/hpa-metrics.ts). */
    hpaMetricsGraceSeconds: z.number().int().min(0).max(3600).optional(),
    alertmanagerUrl: z.string().url().optional(),
    grafanaUrl: z.string().url().optional(),
    /** Name of the env var (or Secrets Manager secret) holding the Slack webhook. Never the URL itself. */
    slackWebhook: z.object({ env: z.string().optional(), secretId: z.string().optional() }).strict().optional(),
    /**
     * Sandbox only: the third-party values (smtp, resend, external-apis fields) secrets.expected
     * puts where terraform/modules/secrets left REPLACE_ME, as a person would answer the prompts.
     * Stand-in values for services that do not exist on loopback; never for a real environment.
     */
    sandboxSecrets: z.record(z.string(), z.record(z.string(), z.string().min(1))).optional(),
  })
  .strict()
  .refine((e) => e.sandbox || !e.sandboxSecrets, { message: 'sandboxSecrets is for sandbox environments only (sandbox: true)', path: ['sandboxSecrets'] })

export type Environment = z.output<typeof environmentSchema>

export const configSchema = z
  .object({
    version: z.literal(1),
    environments: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-case environment name'), environmentSchema),
  })
  .strict()

export type ProjectConfig = z.output<typeof configSchema>

export function loadConfig(root: string): ProjectConfig {
  return loadYamlFile(join(root, 'autolytiq.yaml'), configSchema, 'config')
}

/**
 * Production is never implied: the environment comes from --env or AUTOLYTIQ_ENV, nothing else.
 */
export function resolveEnvironmentName(flag: string | undefined, config: ProjectConfig): string {
  const name = flag ?? process.env.AUTOLYTIQ_ENV
  const names = Object.keys(config.environments)
  if (!name) throw new UserError('no environment given', `pass --env (one of: ${names.join(', ')}) or set AUTOLYTIQ_ENV`)
  if (!config.environments[name]) throw new UserError(`unknown environment "${name}"`, `use one of: ${names.join(', ')}`)
  return name
}
