import { freePort } from './ports.js'
import { spawnProcess } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { fetchWithTimeout, waitFor } from './wait.js'

/** Client config for every AWS SDK v3 client (forcePathStyle only matters to S3). */
export interface AwsTestConfig {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  forcePathStyle: boolean
}

export interface Moto {
  endpoint: string
  port: number
  /** Wipes every resource in every service (POST /moto-api/reset). */
  reset(): Promise<void>
  awsConfig(): AwsTestConfig
  /** Env for child processes (terraform, the CLI) so their SDKs hit moto. */
  awsEnv(): Record<string, string>
  /** Sends a signal to moto's process group (fault tests: SIGSTOP makes a real unresponsive endpoint, SIGCONT revives it). */
  signal(sig: NodeJS.Signals): void
  stop(): Promise<void>
}

export const MOTO_REGION = 'us-east-1'

export function awsConfigFor(endpoint: string): AwsTestConfig {
  return {
    endpoint,
    region: MOTO_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    forcePathStyle: true,
  }
}

export function awsEnvFor(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: MOTO_REGION,
    AWS_DEFAULT_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
}

export interface MotoOptions {
  timeoutMs?: number
  /**
   * Load the AWS-managed IAM policies (MOTO_IAM_LOAD_MANAGED_POLICIES), which Terraform's EKS and
   * backup roles attach. It costs ~2.6 s per fresh account, so only what applies the platform
   * modules (the sandbox) asks for it.
   */
  iamManagedPolicies?: boolean
  /**
   * Where moto's request log (one line per request with its status) goes. The sandbox keeps it in
   * its logs folder, so a failed apply can be traced to the requests moto saw; without it, a
   * temporary folder removed on stop.
   */
  logDir?: string
}

export async function startMoto(opts: MotoOptions = {}): Promise<Moto> {
  const dir = opts.logDir ?? makeTempDir('moto')
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const proc = spawnProcess({
    name: 'moto',
    command: 'moto_server',
    args: ['-H', '127.0.0.1', '-p', String(port)],
    logDir: dir,
    // moto writes nothing else to disk; keep python from buffering its log lines
    env: { PYTHONUNBUFFERED: '1', ...(opts.iamManagedPolicies ? { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } : {}) },
  })
  const stop = async () => {
    await proc.stop()
    if (!opts.logDir) removeTempDir(dir)
  }
  try {
    // python + moto imports take a few seconds on a cold cache
    await waitFor('moto_server', async () => (await fetchWithTimeout(`${endpoint}/moto-api/`)).ok, {
      timeoutMs: opts.timeoutMs ?? 60_000,
      intervalMs: 200,
      procs: [proc],
    })
  } catch (err) {
    await stop()
    throw err
  }
  return {
    endpoint,
    port,
    async reset() {
      const res = await fetchWithTimeout(`${endpoint}/moto-api/reset`, { method: 'POST' }, 10_000)
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`)
    },
    awsConfig: () => awsConfigFor(endpoint),
    awsEnv: () => awsEnvFor(endpoint),
    signal: (sig) => {
      if (proc.pid !== undefined && !proc.exitInfo()) process.kill(-proc.pid, sig)
    },
    stop,
  }
}
