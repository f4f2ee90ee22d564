#!/usr/bin/env node
// How fast does a rollout fail on a pod that cannot start? On a real kube-apiserver +
// controller-manager with the node simulator (image tag `crash` → CrashLoopBackOff, `missing` →
// ImagePullBackOff), each run rolls a healthy Deployment to a bad image and measures:
//   detectionMs — from the moment the failing state is visible in the API (an independent watch
//                 sees the first pod with that reason) to waitForRollouts() rejecting with it,
//                 including the bounded attempt to fetch the container's last logs;
//   endToEndMs  — from the image change to the rejection.
// Target (issue #5): CrashLoopBackOff detected within 10 s of the first crash.
// Needs `npm run build` and the cached control plane. Results: bench/results/rollout-failfast.json
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (p) => join(repo, 'dist', p)
const runs = Number(process.env.BENCH_RUNS ?? 10)
const replicas = Number(process.env.BENCH_REPLICAS ?? 3)

const { startKube } = await import(dist('sandbox/components/kube.js'))
const { startNodeSimulator } = await import(dist('sandbox/components/node-simulator.js'))
const { KubeClients } = await import(dist('clients/kube.js'))
const { waitForRollouts, RolloutFailedError } = await import(dist('k8s/rollout.js'))
const k8s = await import('@kubernetes/client-node')

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return { medianMs: Math.round(at(0.5)), p95Ms: Math.round(at(0.95)), maxMs: Math.round(s[s.length - 1]), minMs: Math.round(s[0]) }
}

/** Resolves with the time the first pod of `app` shows `reason`, seen by a watch of our own. */
function firstSeen(kc, namespace, app, reason) {
  const watch = new k8s.Watch(kc)
  return new Promise((resolve, reject) => {
    let ctrl
    const timer = setTimeout(() => (ctrl?.abort(), reject(new Error(`${reason} never seen`))), 60_000)
    watch
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { labelSelector: `app=${app}` },
        (_type, pod) => {
          if ((pod.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === reason)) {
            clearTimeout(timer)
            ctrl?.abort()
            resolve(performance.now())
          }
        },
        () => undefined,
      )
      .then((c) => (ctrl = c), reject)
  })
}

const kubeEnv = await startKube()
const sim = await startNodeSimulator({ kubeConfig: kubeEnv.kubeConfig() })
const kc = kubeEnv.kubeConfig()
const kube = new KubeClients({ kubeconfig: kubeEnv.kubeconfigPath })
const core = kc.makeApiClient(k8s.CoreV1Api)
const apps = kc.makeApiClient(k8s.AppsV1Api)
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch)

const scenarios = { CrashLoopBackOff: 'v2-crash', ImagePullBackOff: 'v2-missing' }
const results = {}
try {
  for (const [reason, tag] of Object.entries(scenarios)) {
    const detection = []
    const endToEnd = []
    for (let i = 0; i < runs; i++) {
      const namespace = `bench-${tag}-${i}`
      const app = 'svc'
      await core.createNamespace({ body: { metadata: { name: namespace } } })
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: app },
          spec: {
            replicas,
            selector: { matchLabels: { app } },
            template: { metadata: { labels: { app } }, spec: { containers: [{ name: app, image: `registry.local/${app}:v1` }] } },
          },
        },
      })
      await waitForRollouts(kube, { namespace, deployments: [app], timeoutMs: 60_000 })
      const seen = firstSeen(kc, namespace, app, reason)
      const t0 = performance.now()
      await apps.patchNamespacedDeployment(
        { name: app, namespace, body: { spec: { template: { spec: { containers: [{ name: app, image: `registry.local/${app}:${tag}` }] } } } } },
        strategic,
      )
      // started after the change, as k8s.rollout runs after k8s.deploy (before it, the old revision is complete)
      const failed = waitForRollouts(kube, { namespace, deployments: [app], timeoutMs: 60_000 }).then(
        () => {
          throw new Error('the rollout succeeded?')
        },
        (err) => {
          if (!(err instanceof RolloutFailedError) || err.failures[0]?.reason !== reason) throw err
          return performance.now()
        },
      )
      const [tSeen, tFail] = await Promise.all([seen, failed])
      detection.push(tFail - tSeen)
      endToEnd.push(tFail - t0)
      await core.deleteNamespace({ name: namespace })
      process.stderr.write(`${reason} run ${i + 1}/${runs}: detection ${Math.round(tFail - tSeen)} ms, end to end ${Math.round(tFail - t0)} ms\n`)
    }
    results[reason] = { detection: stats(detection), endToEnd: stats(endToEnd) }
  }
} finally {
  await sim.stop()
  await kubeEnv.stop()
}

const out = {
  machine: `${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, node ${process.version}`,
  runs,
  replicasPerDeployment: replicas,
  targetMs: 10_000,
  ...results,
}
mkdirSync(join(repo, 'bench', 'results'), { recursive: true })
writeFileSync(join(repo, 'bench', 'results', 'rollout-failfast.json'), JSON.stringify(out, null, 2) + '\n')
console.log(JSON.stringify(out, null, 2))
process.exit(0)
