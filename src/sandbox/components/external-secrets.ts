import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { spawnProcess, type Proc } from './proc.js'
import { waitFor } from './wait.js'

/**
 * The real External Secrets Operator (github.com/external-secrets/external-secrets), built from the
 * Go module proxy by test/harness/scripts/build-eso.sh and run out of cluster against the sandbox's
 * or the test harness's API server, with Secrets Manager and STS on moto. Its CRDs are the
 * upstream bundle from the same module, so the API server validates ExternalSecrets and
 * ClusterSecretStores exactly as in staging and prod.
 *
 * No static AWS credentials are given to it: with the ClusterSecretStore's
 * `auth.jwt.serviceAccountRef` it asks the API server for a token of that service account
 * (TokenRequest, audience sts.amazonaws.com), exchanges it at STS (moto) with
 * AssumeRoleWithWebIdentity for the role ARN on the service account, and reads Secrets Manager
 * with those credentials — the IRSA chain of EKS, for real.
 */
/** The release staging and prod pin (helm.external-secrets) and the sandbox runs. */
export const ESO_RELEASE = 'v0.19.2'
export const ESO_VERSION = process.env.ESO_VERSION ?? ESO_RELEASE
// src/sandbox/components and dist/sandbox/components are both three levels below the repo root
const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'harness', 'scripts', 'build-eso.sh')

export interface EsoInstall {
  binary: string
  /** The module source (deploy/crds/bundle.yaml). */
  moduleDir: string
  crdBundle: string
  /** The module's chart as published for this version (build-eso.sh: version stamped, CRDs in crds/). */
  chartDir: string
}

export function esoInstall(): EsoInstall {
  const cache = process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq')
  const dir = join(cache, `eso-${ESO_VERSION}`)
  const moduleDir = join(dir, 'module')
  return {
    binary: join(dir, 'bin', 'external-secrets'),
    moduleDir,
    crdBundle: join(moduleDir, 'deploy', 'crds', 'bundle.yaml'),
    chartDir: join(dir, 'chart', 'external-secrets'),
  }
}

/** The operator binary and its module, building them first (cold: ~7 min on 2 cores) when missing. */
export async function ensureEso(): Promise<EsoInstall> {
  const i = esoInstall()
  const ready = (): boolean => existsSync(i.binary) && existsSync(i.crdBundle) && existsSync(join(i.chartDir, 'Chart.yaml'))
  if (ready()) return i
  process.stderr.write(`[harness] building the External Secrets Operator ${ESO_VERSION} (cached afterwards)\n`)
  const r = await execa('bash', [BUILD_SCRIPT], { env: { ESO_VERSION }, stdout: 'inherit', stderr: 'inherit', reject: false })
  if (r.exitCode !== 0 || !ready()) throw new Error(`build-eso.sh failed (exit ${r.exitCode}); ${i.binary} missing`)
  return i
}

/** CRDs the operator watches: all must be served before it starts, or its informers never sync. */
const CRDS = [
  'externalsecrets.external-secrets.io',
  'clustersecretstores.external-secrets.io',
  'secretstores.external-secrets.io',
  'generatorstates.generators.external-secrets.io',
]

/** Server-side applies the upstream CRD bundle (idempotent) and waits until the API server serves them. */
export async function installEsoCrds(kubectlPath: string, kubeconfigPath: string, install: EsoInstall = esoInstall()): Promise<void> {
  const kubectl = (args: string[]) => execa(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { timeout: 120_000 })
  // server-side: the bundle's CRDs are too large for the client-side last-applied annotation
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=autolytiq-eso-crds', '-f', install.crdBundle])
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...CRDS.map((c) => `crd/${c}`)])
}

export interface RunningEso {
  proc: Proc
  /** Seconds from spawn to both controllers running. */
  startSeconds: number
  stop(): Promise<void>
}

/**
 * Starts the operator as a process. Flags: no leader election (one replica), no metrics listener,
 * only the controllers this project uses (ExternalSecret, SecretStore/ClusterSecretStore and the
 * GeneratorState controller it always runs); push secrets and cluster external secrets are off.
 * Ready once the ExternalSecret and ClusterSecretStore controllers have started their workers.
 */
export async function startEso(opts: {
  kubeconfigPath: string
  awsEndpoint: string
  region: string
  logDir: string
  install?: EsoInstall
  timeoutMs?: number
  /** --controller-class: only stores whose spec.controller names it (default: stores without one). */
  controllerClass?: string
}): Promise<RunningEso> {
  const install = opts.install ?? (await ensureEso())
  const t0 = Date.now()
  const proc = spawnProcess({
    name: 'external-secrets',
    command: install.binary,
    args: [
      '--metrics-addr=0',
      '--enable-leader-election=false',
      '--enable-push-secret-reconciler=false',
      '--enable-cluster-push-secret-reconciler=false',
      '--enable-cluster-external-secret-reconciler=false',
      '--concurrent=4',
      '--loglevel=info',
      '--zap-time-encoding=iso8601',
      ...(opts.controllerClass ? [`--controller-class=${opts.controllerClass}`] : []),
    ],
    logDir: opts.logDir,
    env: {
      KUBECONFIG: opts.kubeconfigPath,
      AWS_SECRETSMANAGER_ENDPOINT: opts.awsEndpoint,
      AWS_STS_ENDPOINT: opts.awsEndpoint,
      AWS_REGION: opts.region,
      // no credentials of its own: only the IRSA chain (service-account token -> STS) gives it any
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_ENDPOINT_URL: '',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  })
  try {
    await waitFor(
      'External Secrets Operator (controllers started)',
      () => {
        const log = readFileSync(proc.logPath, 'utf8')
        return ['externalsecret', 'clustersecretstore'].every((c) => new RegExp(`"msg":"Starting workers","controller":"${c}"`).test(log))
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100, procs: [proc] },
    )
  } catch (err) {
    await proc.stop()
    throw err
  }
  return { proc, startSeconds: (Date.now() - t0) / 1000, stop: () => proc.stop() }
}
