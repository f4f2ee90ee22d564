/**
 * The real External Secrets Operator for the test cluster, installed once per test run the way
 * `helm.external-secrets` installs it in the sandbox: the upstream chart from the Go module (its
 * CRDs, service account with the IRSA role annotation, RBAC, Deployment), then the operator
 * process itself out of cluster against the harness API server and moto.
 *
 * The release's values are exactly what `helm.external-secrets` computes for the tests' projects
 * (terraform output external_secrets_role_arn = EXTERNAL_SECRETS_ROLE_ARN, the local chart's
 * sandbox values), so a test that runs that step finds the release up to date.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { ensureEso, startEso, type RunningEso } from '../../src/sandbox/components/external-secrets.js'
import { makeTempDir, removeTempDir } from '../../src/sandbox/components/tmp.js'

export * from '../../src/sandbox/components/external-secrets.js'

/** The role the tests' terraform outputs give the operator's service account (moto answers AssumeRoleWithWebIdentity for it). */
export const EXTERNAL_SECRETS_ROLE_ARN = 'arn:aws:iam::123456789012:role/autolytiq-test-external-secrets'

export const HARNESS_ESO_VALUES = {
  installCRDs: true,
  serviceAccount: { create: true, name: 'external-secrets', annotations: { 'eks.amazonaws.com/role-arn': EXTERNAL_SECRETS_ROLE_ARN } },
  webhook: { create: false },
  certController: { create: false },
}

export interface HarnessEso {
  operator: RunningEso
  /** Seconds for the chart install (CRDs included). */
  helmSeconds: number
  stop(): Promise<void>
}

export async function startHarnessEso(opts: { kubeconfigPath: string; helm: string; awsEndpoint: string; region: string }): Promise<HarnessEso> {
  const install = await ensureEso()
  const dir = makeTempDir('eso')
  try {
    const t0 = Date.now()
    const values = join(dir, 'values.json')
    writeFileSync(values, JSON.stringify(HARNESS_ESO_VALUES))
    const r = await execa(
      opts.helm,
      [
        'upgrade',
        '--install',
        'external-secrets',
        install.chartDir,
        '--namespace',
        'external-secrets',
        '--create-namespace',
        '--values',
        values,
        '--wait',
        '--timeout',
        '120s',
        '--kubeconfig',
        opts.kubeconfigPath,
      ],
      { reject: false, timeout: 180_000 },
    )
    if (r.exitCode !== 0) throw new Error(`helm install of the External Secrets chart failed: ${r.stderr}`)
    const helmSeconds = (Date.now() - t0) / 1000
    const operator = await startEso({ kubeconfigPath: opts.kubeconfigPath, awsEndpoint: opts.awsEndpoint, region: opts.region, logDir: dir, install })
    return {
      operator,
      helmSeconds,
      async stop() {
        await operator.stop()
        removeTempDir(dir)
      },
    }
  } catch (err) {
    removeTempDir(dir)
    throw err
  }
}
