#!/usr/bin/env node
// `autolytiq rollback --service` end to end against raw `kubectl rollout undo` + `kubectl rollout
// status`, on the same real kube-apiserver + controller-manager with the node simulator. Before
// every measured rollback the Deployment is (re)deployed at v2 with v1 as its previous revision
// (not measured); the two tools alternate so machine load hits both alike.
//   kubectlMs   — wall time of `kubectl rollout undo` followed by `kubectl rollout status`
//   autolytiqMs — wall time of `autolytiq rollback --env bench --service deal-service --yes --json`
//                 (lock, audit, rollback point, undo, watch-driven wait with fail-fast, verification)
//   breakdown   — autolytiq's own timings from its --json (plan/apply/rollout/verify; planMs includes
//                 loading @kubernetes/client-node) and the rest: node + oclif start-up.
// Two scenarios: `instant` — the simulator makes pods Ready at once, so a rollout takes well under a
// second and the tools' fixed start-up costs dominate; `readiness` — minReadySeconds stands in for
// the seconds a real pod needs to pass its readiness probe (image pull, JVM/Go start, probe period),
// the situation an on-call rollback is actually in.
// Target (issue #7): autolytiqMs / kubectlMs <= 1.2. Needs `npm run build` and the cached control
// plane. Results: bench/results/rollback.json. BENCH_RUNS (default 5), BENCH_REPLICAS (default 3),
// BENCH_MIN_READY_SECONDS (default 5: the readinessProbe initialDelaySeconds of k8s/base).
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (p) => join(repo, 'dist', p)
const runs = Number(process.env.BENCH_RUNS ?? 5)
const replicas = Number(process.env.BENCH_REPLICAS ?? 3)
const minReadySeconds = Number(process.env.BENCH_MIN_READY_SECONDS ?? 5)
const namespace = 'bench-rollback'
const name = 'deal-service'
const image = (tag) => `123456789012.dkr.ecr.us-east-1.amazonaws.com/autolytiq/${name}:${tag}`

const { startKube } = await import(dist('sandbox/components/kube.js'))
const { startNodeSimulator } = await import(dist('sandbox/components/node-simulator.js'))

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return { medianMs: Math.round(s[Math.floor(s.length / 2)]), minMs: Math.round(s[0]), maxMs: Math.round(s[s.length - 1]) }
}

const kube = await startKube()
const sim = await startNodeSimulator({ kubeConfig: kube.kubeConfig() })
const project = mkdtempSync(join(tmpdir(), 'autolytiq-bench-rollback-'))
const kubectl = (args) => run(kube.kubectlPath, ['-n', namespace, ...args], { env: { ...process.env, KUBECONFIG: kube.kubeconfigPath } })
const timed = async (fn) => {
  const t0 = performance.now()
  const out = await fn()
  return { ms: performance.now() - t0, out }
}

/** Rolls `name` back `runs` times with each tool, alternating; the Deployment waits `readyAfter` s per new pod. */
async function measure(scenario, readyAfter, cliEnv) {
  // The Deployment as k8s/base defines its rollout: maxSurge 25%, maxUnavailable 0.
  const manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      minReadySeconds: readyAfter,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: image('v1') }] } },
    },
  }
  const file = join(project, 'deployment.json')
  writeFileSync(file, JSON.stringify(manifest))
  await kubectl(['apply', '-f', file])
  await kubectl(['rollout', 'status', `deployment/${name}`])

  /** A new release (not measured): the thing both tools then roll back. */
  const deployNext = async () => {
    release++
    await kubectl(['set', 'image', `deployment/${name}`, `${name}=${image(`v${release}`)}`])
    await kubectl(['rollout', 'status', `deployment/${name}`])
  }
  const tools = {
    kubectl: async () => {
      await kubectl(['rollout', 'undo', `deployment/${name}`])
      await kubectl(['rollout', 'status', `deployment/${name}`])
      return undefined
    },
    autolytiq: async () => {
      const r = await run(process.execPath, [join(repo, 'bin', 'run.js'), 'rollback', '--env', 'bench', '--service', name, '--yes', '--json'], { env: cliEnv })
      const out = JSON.parse(r.stdout)
      if (out.result !== 'rolled-back') throw new Error(`autolytiq rollback: ${r.stdout}`)
      return out
    },
  }

  const samples = { kubectl: [], autolytiq: [] }
  const internal = { durationMs: [], planMs: [], applyMs: [], rolloutMs: [], verifyMs: [] }
  await deployNext()
  await tools.autolytiq() // warm the file cache once; not counted
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ['kubectl', 'autolytiq'] : ['autolytiq', 'kubectl']
    for (const tool of order) {
      await deployNext()
      const { ms, out } = await timed(tools[tool])
      samples[tool].push(ms)
      if (out) {
        internal.durationMs.push(out.durationMs)
        for (const k of ['planMs', 'applyMs', 'rolloutMs', 'verifyMs']) internal[k].push(out.timings[k])
      }
      process.stderr.write(`${scenario} run ${i + 1}/${runs} ${tool}: ${Math.round(ms)} ms\n`)
    }
  }
  const k = stats(samples.kubectl)
  const a = stats(samples.autolytiq)
  const medians = Object.fromEntries(Object.entries(internal).map(([key, xs]) => [key, stats(xs).medianMs]))
  return {
    minReadySeconds: readyAfter,
    kubectl: k,
    autolytiq: a,
    ratioMedian: Number((a.medianMs / k.medianMs).toFixed(2)),
    overheadMedianMs: a.medianMs - k.medianMs,
    breakdownMedianMs: { ...medians, processAndStartupMs: a.medianMs - medians.durationMs },
  }
}

let release = 1

try {
  // A project whose sandbox environment points at this cluster.
  const env = {
    bench: {
      sandbox: true,
      region: 'us-east-1',
      accountId: '123456789012',
      domain: 'bench.autolytiq.test',
      apiDomain: 'api.bench.autolytiq.test',
      eksCluster: 'bench',
      namespace,
      terraformDir: 'terraform/environments/sandbox-platform',
      kustomizeOverlay: 'k8s/overlays/sandbox',
      drRegion: 'us-west-2',
      alertEmail: 'ops@bench.autolytiq.test',
      release: 'v1.0.0',
      terraformState: { bucket: 'bench-tf-state', lockTable: 'bench-tf-lock' },
    },
  }
  writeFileSync(join(project, 'autolytiq.yaml'), JSON.stringify({ version: 1, environments: env }))
  for (const dir of ['services', 'runbooks']) await run('cp', ['-r', join(repo, dir), join(project, dir)])
  mkdirSync(join(project, 'home', 'sandbox'), { recursive: true })
  writeFileSync(join(project, 'home', 'sandbox', 'runtime.json'), JSON.stringify({ kubeconfig: kube.kubeconfigPath }))
  const cliEnv = { ...process.env, CI: 'true', NO_COLOR: '1', AUTOLYTIQ_ROOT: project, AUTOLYTIQ_HOME: join(project, 'home') }

  await run(kube.kubectlPath, ['create', 'namespace', namespace], { env: { ...process.env, KUBECONFIG: kube.kubeconfigPath } })
  const scenarios = {}
  for (const [scenario, readyAfter] of [
    ['instant', 0],
    ['readiness', minReadySeconds],
  ])
    scenarios[scenario] = await measure(scenario, readyAfter, cliEnv)
  const results = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    runs,
    replicas,
    target: 1.2,
    ...scenarios,
  }
  mkdirSync(join(repo, 'bench', 'results'), { recursive: true })
  writeFileSync(join(repo, 'bench', 'results', 'rollback.json'), JSON.stringify(results, null, 2) + '\n')
  console.log(JSON.stringify(results, null, 2))
} finally {
  await sim.stop()
  await kube.stop()
  rmSync(project, { recursive: true, force: true })
}
