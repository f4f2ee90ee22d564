import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { request } from 'node:https'
import { execa } from 'execa'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { freePort } from './ports.js'
import { spawnProcess, type Proc } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { fetchWithTimeout, waitFor } from './wait.js'

export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.34.4'
const K8S_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const
// src/sandbox/components and dist/sandbox/components are both three levels below the repo root
const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'harness', 'scripts', 'build-k8s.sh')

/**
 * Controllers a test cluster runs. No scheduler (the node simulator binds pods), no kubelet, no
 * node-lifecycle controller (so the simulated node never goes NotReady).
 */
export const KUBE_CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'job-controller',
  'endpointslice-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
]

export function k8sBinDir(): string {
  const cache = process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq')
  return join(cache, `k8s-${K8S_VERSION}`, 'bin')
}

/**
 * Returns the directory holding etcd, kube-apiserver, kube-controller-manager and kubectl,
 * building them first with build-k8s.sh when any is missing (10-25 minutes cold; the script's
 * progress goes to our stderr). Cached binaries return immediately without spawning anything.
 */
export async function ensureK8sBinaries(): Promise<string> {
  const bin = k8sBinDir()
  if (K8S_BINARIES.every((b) => existsSync(join(bin, b)))) return bin
  process.stderr.write(`[harness] building the Kubernetes ${K8S_VERSION} control plane (cached afterwards)\n`)
  const r = await execa('bash', [BUILD_SCRIPT], {
    env: { K8S_VERSION },
    stdout: 'inherit',
    stderr: 'inherit',
    reject: false,
  })
  if (r.exitCode !== 0) throw new Error(`build-k8s.sh failed with exit code ${r.exitCode}`)
  const missing = K8S_BINARIES.filter((b) => !existsSync(join(bin, b)))
  if (missing.length) throw new Error(`build-k8s.sh finished but ${missing.join(', ')} missing in ${bin}`)
  return bin
}

export interface KubectlResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface TestKube {
  kubeconfigPath: string
  /** https://127.0.0.1:PORT */
  server: string
  /** Static bearer token of a system:masters user. */
  token: string
  binDir: string
  /** The kubectl built with the control plane (same version as the server). */
  kubectlPath: string
  /** Runs kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>
  /** A fresh client config for @kubernetes/client-node. */
  kubeConfig(): KubeConfig
  /** SIGKILLs kube-apiserver and starts it again on the same port with the same etcd data (optionally after `downMs`); resolves once /readyz is ok. */
  restartApiServer(opts?: { downMs?: number }): Promise<void>
  stop(): Promise<void>
}

/** Runs kubectl with only the given kubeconfig (never the user's ~/.kube/config); never throws on
 *  a non-zero exit, so tests can assert on exitCode and stderr. */
export async function runKubectl(
  kubectlPath: string,
  kubeconfigPath: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const r = await execa(kubectlPath, args, {
    env: { KUBECONFIG: kubeconfigPath },
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
  })
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** GET on the apiserver without verifying its self-signed serving certificate. */
function apiGet(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

export function writeKubeconfig(path: string, server: string, token: string): void {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'autolytiq-test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'autolytiq-test', context: { cluster: 'autolytiq-test', user: 'admin', namespace: 'default' } }],
    'current-context': 'autolytiq-test',
  }
  writeFileSync(path, stringify(cfg), { mode: 0o600 })
}

/**
 * etcd + kube-apiserver + kube-controller-manager on random loopback ports (envtest-like flags,
 * see TESTING.md). Ready when /readyz is ok and the controller manager has created the default
 * ServiceAccount (proof that its controllers run).
 */
export async function startKube(
  opts: {
    binDir?: string
    timeoutMs?: number
    /** kube-controller-manager controllers (default KUBE_CONTROLLERS). */
    controllers?: string[]
    /**
     * A TokenReview webhook (src/sandbox/components/eks-authenticator.ts) consulted for bearer
     * tokens the static token file does not know: how EKS authenticates IAM identities.
     */
    tokenWebhookUrl?: string
  } = {},
): Promise<TestKube> {
  const binDir = opts.binDir ?? (await ensureK8sBinaries())
  const timeoutMs = opts.timeoutMs ?? 120_000
  const dir = makeTempDir('kube')
  const procs: Proc[] = []
  const stop = async () => {
    // reverse start order: controllers, apiserver, then etcd
    for (const p of [...procs].reverse()) await p.stop()
    removeTempDir(dir)
  }

  try {
    // --- etcd ---
    const etcdPort = await freePort()
    const etcdUrl = `http://127.0.0.1:${etcdPort}`
    const etcd = spawnProcess({
      name: 'etcd',
      command: join(binDir, 'etcd'),
      args: [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        '--listen-peer-urls=http://localhost:0',
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      logDir: dir,
    })
    procs.push(etcd)
    await waitFor(
      'etcd',
      async () => {
        const res = await fetchWithTimeout(`${etcdUrl}/health`)
        return res.ok && ((await res.json()) as { health?: string }).health === 'true'
      },
      { timeoutMs, procs: [etcd] },
    )

    // --- kube-apiserver ---
    const port = await freePort()
    const server = `https://127.0.0.1:${port}`
    const token = randomBytes(24).toString('hex')
    // service account signing keys are made per run; nothing secret is kept in the repo
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }))
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 })
    mkdirSync(join(dir, 'apiserver-certs'))
    const webhookArgs: string[] = []
    if (opts.tokenWebhookUrl) {
      const cfg = join(dir, 'authn-webhook.kubeconfig')
      writeFileSync(
        cfg,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'eks-authenticator', cluster: { server: opts.tokenWebhookUrl } }],
          users: [{ name: 'kube-apiserver', user: {} }],
          contexts: [{ name: 'webhook', context: { cluster: 'eks-authenticator', user: 'kube-apiserver' } }],
          'current-context': 'webhook',
        }),
      )
      // a short cache: an access entry removed from the configuration stops working within seconds
      webhookArgs.push(
        `--authentication-token-webhook-config-file=${cfg}`,
        '--authentication-token-webhook-version=v1',
        '--authentication-token-webhook-cache-ttl=5s',
      )
    }
    const spawnApiServer = (): Proc =>
      spawnProcess({
        name: 'kube-apiserver',
        command: join(binDir, 'kube-apiserver'),
        args: [
          `--etcd-servers=${etcdUrl}`,
          `--cert-dir=${join(dir, 'apiserver-certs')}`,
          `--secure-port=${port}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          '--service-cluster-ip-range=10.0.0.0/24',
          '--allow-privileged=true',
          `--service-account-issuer=${server}`,
          `--service-account-key-file=${join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
          '--authorization-mode=RBAC',
          `--token-auth-file=${join(dir, 'tokens.csv')}`,
          '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
          '--endpoint-reconciler-type=none',
          ...webhookArgs,
        ],
        logDir: dir,
      })
    let apiserver = spawnApiServer()
    procs.push(apiserver)
    const apiserverReady = (): Promise<unknown> =>
      waitFor(
        'kube-apiserver /readyz',
        async () => {
          const r = await apiGet(`${server}/readyz`, token)
          if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 300)}`)
          return true
        },
        { timeoutMs, intervalMs: 250, procs: [etcd, apiserver] },
      )
    await apiserverReady()
    const kubeconfigPath = join(dir, 'kubeconfig')
    writeKubeconfig(kubeconfigPath, server, token)

    // --- kube-controller-manager ---
    const kcm = spawnProcess({
      name: 'kube-controller-manager',
      command: join(binDir, 'kube-controller-manager'),
      args: [
        `--kubeconfig=${kubeconfigPath}`,
        `--controllers=${(opts.controllers ?? KUBE_CONTROLLERS).join(',')}`,
        '--use-service-account-credentials=false',
        '--leader-elect=false',
        '--secure-port=0',
        // the default client rate limit (20 qps) makes scaling to hundreds of pods take minutes
        '--kube-api-qps=500',
        '--kube-api-burst=1000',
        '--concurrent-deployment-syncs=10',
        '--concurrent-replicaset-syncs=10',
        '--concurrent-gc-syncs=40',
      ],
      logDir: dir,
    })
    procs.push(kcm)

    const kubeConfig = () => {
      const kc = new KubeConfig()
      kc.loadFromFile(kubeconfigPath)
      return kc
    }
    const core = kubeConfig().makeApiClient(CoreV1Api)
    // The serviceaccount controller creates "default" in every namespace once its informers
    // have synced: a cheap signal that the controller manager is up and reconciling.
    await waitFor(
      'kube-controller-manager (default ServiceAccount)',
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })).metadata?.name,
      { timeoutMs, intervalMs: 250, procs: [etcd, apiserver, kcm] },
    )

    const kubectlPath = join(binDir, 'kubectl')
    return {
      kubeconfigPath,
      server,
      token,
      binDir,
      kubectlPath,
      kubectl: (args, o = {}) => runKubectl(kubectlPath, kubeconfigPath, args, o),
      kubeConfig,
      async restartApiServer(opts = {}) {
        // Fault tests: the same flags, port, certificates and etcd data, so clients reconnect to "the same" server.
        const old = apiserver
        if (old.pid !== undefined && !old.exitInfo()) process.kill(-old.pid, 'SIGKILL')
        await old.exited
        await old.stop() // reaps the group and forgets it
        if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs))
        apiserver = spawnApiServer()
        procs.splice(procs.indexOf(old), 1, apiserver)
        await apiserverReady()
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
