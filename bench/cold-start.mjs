#!/usr/bin/env node
// Cold start of `autolytiq status` against bare `node -e 0`, and state load/save with 500 steps.
// Target (issue #2): status under 4x bare node. Results: bench/results/cold-start.json
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Number(process.env.BENCH_RUNS ?? 15)
const loadAtStart = loadavg()[0].toFixed(1)

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
function time(cmd, args, env) {
  const samples = []
  for (let i = 0; i < runs + 2; i++) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: 'ignore' })
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`)
    if (i >= 2) samples.push(Number(process.hrtime.bigint() - t0) / 1e6) // first two warm the page cache
  }
  return { medianMs: +median(samples).toFixed(1), minMs: +Math.min(...samples).toFixed(1) }
}

const root = mkdtempSync(join(tmpdir(), 'autolytiq-bench-'))
try {
  cpSync(join(repo, 'services'), join(root, 'services'), { recursive: true })
  cpSync(join(repo, 'runbooks'), join(root, 'runbooks'), { recursive: true })
  writeFileSync(
    join(root, 'autolytiq.yaml'),
    `version: 1\nenvironments:\n  bench:\n    region: us-east-1\n    accountId: '123456789012'\n    domain: bench.autolytiq.test\n    apiDomain: api.bench.autolytiq.test\n    eksCluster: bench\n    namespace: bench\n    terraformDir: terraform/environments/sandbox-platform\n    kustomizeOverlay: k8s/overlays/sandbox\n    drRegion: us-west-2\n    alertEmail: ops@bench.autolytiq.test\n    release: v1.0.0\n    terraformState: { bucket: b-state, lockTable: b-lock }\n`,
  )
  const env = { AUTOLYTIQ_ROOT: root, AUTOLYTIQ_HOME: join(root, '.autolytiq') }
  const node = time(process.execPath, ['-e', '0'], {})
  const status = time(process.execPath, [join(repo, 'bin', 'run.js'), 'status', '--env', 'bench'], env)
  const help = time(process.execPath, [join(repo, 'bin', 'run.js'), '--version'], env)

  // State load/save with 500 steps, through the real StateStore (atomic write + fsync + rename).
  mkdirSync(join(root, 'state'))
  const stateBench = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
      import { StateStore, LocalStateBackend } from '${join(repo, 'dist/engine/state.js')}'
      const path = '${join(root, 'state', 'big.json')}'
      let store = await StateStore.open(new LocalStateBackend(path), 'bench')
      for (let i = 0; i < 500; i++) { Object.assign(store.step('go-live', 'step-' + i), { status: 'done', attempts: 1, detail: 'x'.repeat(80) }); store.setOutputs('step-' + i, { arn: 'arn:aws:acm:us-east-1:123456789012:certificate/' + i }) }
      await store.save()
      const n = 50; let t0 = performance.now()
      for (let i = 0; i < n; i++) await store.save()
      const saveMs = (performance.now() - t0) / n
      t0 = performance.now()
      for (let i = 0; i < n; i++) store = await StateStore.open(new LocalStateBackend(path), 'bench')
      const loadMs = (performance.now() - t0) / n
      const { statSync } = await import('node:fs')
      console.log(JSON.stringify({ steps: 500, bytes: statSync(path).size, saveMs: +saveMs.toFixed(2), loadMs: +loadMs.toFixed(2) }))
      `,
    ],
    { encoding: 'utf8' },
  )
  const result = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadAtStart} at start`,
    runs,
    nodeBare: node,
    autolytiqStatus: status,
    autolytiqVersion: help,
    ratioStatusToNode: +(status.medianMs / node.medianMs).toFixed(2),
    targetRatio: 4,
    state500: JSON.parse(stateBench),
  }
  mkdirSync(join(repo, 'bench', 'results'), { recursive: true })
  writeFileSync(join(repo, 'bench', 'results', 'cold-start.json'), JSON.stringify(result, null, 2) + '\n')
  console.log(JSON.stringify(result, null, 2))
  if (result.ratioStatusToNode > result.targetRatio) process.exitCode = 1
} finally {
  rmSync(root, { recursive: true, force: true })
}
