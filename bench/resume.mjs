#!/usr/bin/env node
// Resume of a finished environment: how long does a second `deploy` take when everything is
// already done, and how many AWS API calls does it make (target: zero mutating ones)?
// Runs on its own sandbox (phases 1-7: phase 8's checklist needs a person). Results: bench/results/resume.json
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, homedir, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const home = mkdtempSync(join(tmpdir(), 'autolytiq-bench-resume-'))
const cache = process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq')
const env = { ...process.env, CI: 'true', AUTOLYTIQ_HOME: home, AUTOLYTIQ_SKIP_BUILD: '1', PATH: `${join(cache, 'bin')}:${process.env.PATH}` }

function cli(args) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'run.js'), ...args], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return { code: r.status, ms: Math.round(performance.now() - t0), stdout: r.stdout, stderr: r.stderr }
}

let result
try {
  const up = cli(['sandbox', 'up'])
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stderr.slice(-2000)}`)
  const first = cli(['deploy', '--env', 'sandbox', '--yes', '--phase', '1..7', '--json'])
  if (first.code !== 0) throw new Error(`first deploy failed: ${first.stdout.slice(-3000)}`)
  const runs = []
  for (let i = 0; i < 3; i++) {
    const again = cli(['deploy', '--env', 'sandbox', '--yes', '--phase', '1..7', '--json'])
    if (again.code !== 0) throw new Error(`re-run failed: ${again.stdout.slice(-3000)}`)
    const report = JSON.parse(again.stdout)
    runs.push({ ms: again.ms, changed: report.changed, unchanged: report.unchanged, awsCalls: report.awsCalls })
  }
  const sorted = [...runs].sort((a, b) => a.ms - b.ms)
  result = {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${loadavg()[0].toFixed(1)}`,
    firstDeployMs: first.ms,
    steps: runs[0].changed + runs[0].unchanged,
    rerunMedianMs: sorted[1].ms,
    rerunChanged: Math.max(...runs.map((r) => r.changed)),
    rerunAwsCalls: runs[0].awsCalls,
    runs,
  }
} finally {
  cli(['sandbox', 'down'])
  rmSync(home, { recursive: true, force: true })
}
mkdirSync(join(repo, 'bench', 'results'), { recursive: true })
writeFileSync(join(repo, 'bench', 'results', 'resume.json'), JSON.stringify(result, null, 2) + '\n')
console.log(JSON.stringify(result, null, 2))
if (result.rerunChanged !== 0 || result.rerunAwsCalls?.mutating !== 0) process.exitCode = 1
