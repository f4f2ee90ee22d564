#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other (they share 2 cores, so never
// concurrently), each writing bench/results/<name>.json. Needs `npm run build` and, for the
// Kubernetes ones, the cached control plane (test/harness/scripts/build-k8s.sh).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const benches = ['cold-start', 'verify', 'rollout-failfast', 'rollback', 'resume']
const only = process.argv.slice(2)
let failed = 0
for (const name of benches) {
  if (only.length && !only.includes(name)) continue
  console.log(`\n== bench ${name}`)
  const r = spawnSync(process.execPath, [join(here, `${name}.mjs`)], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    console.log(`bench ${name} exited ${r.status} (missed its target or failed)`)
  }
}
process.exitCode = failed ? 1 : 0
