#!/usr/bin/env node
// `autolytiq verify` scaling: N services whose health endpoints each answer in 200 ms, checked
// concurrently (how verify runs) and one after another (what the plan's curl loop does).
// Target (issue #6): at 12 services the concurrent wall time is <= 1.5x the slowest single check
// plus start-up — not the sum. Uses the built CLI modules (npm run build). Results:
// bench/results/verify.json. BENCH_RUNS (default 3) repetitions; the median is reported.
import { performance } from 'node:perf_hooks'
import process from 'node:process'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Dynamic imports so their load time is measured as part of start-up.
const t0 = performance.now()
const { verifyChecks } = await import('../dist/checks/verify.js')
const { runChecks } = await import('../dist/checks/run.js')
const { Catalog } = await import('../dist/config/catalog.js')
const { HttpClient } = await import('../dist/clients/http.js')
const { environmentSchema } = await import('../dist/config/environments.js')
const importMs = performance.now() - t0

const RESPONSE_MS = 200
const runs = Number(process.env.BENCH_RUNS ?? 3)
const sizes = (process.env.BENCH_SIZES ?? '12,200').split(',').map(Number)
const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const round = (x) => Math.round(x)

// One HTTPS server standing in for the API gateway, in its own process (a real gateway is not in
// verify's process either): every health path answers after 200 ms.
const dir = mkdtempSync(join(tmpdir(), 'autolytiq-bench-verify-'))
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
  ],
  { stdio: 'ignore' },
)
// BENCH_PROTOCOL=h1 serves HTTP/1.1 only (an entry point without HTTP/2); the default offers h2
// and HTTP/1.1 by ALPN, as an ALB's HTTPS listener does.
const protocol = process.env.BENCH_PROTOCOL === 'h1' ? 'h1' : 'h2'
const serverCode = `
  import { createServer } from 'node:https'
  import { createSecureServer } from 'node:http2'
  import { readFileSync } from 'node:fs'
  const tls = { key: readFileSync(process.argv[1] + '/key.pem'), cert: readFileSync(process.argv[1] + '/cert.pem') }
  const handler = (_req, res) => {
    setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"ok"}') }, ${RESPONSE_MS})
  }
  const server = process.argv[2] === 'h2' ? createSecureServer({ ...tls, allowHTTP1: true }, handler) : createServer(tls, handler)
  server.listen(0, '127.0.0.1', 2048, () => process.stdout.write(server.address().port + '\\n'))
`
const child = spawn(process.execPath, ['--input-type=module', '-e', serverCode, dir, protocol], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve, reject) => {
  child.stdout.once('data', (d) => resolve(Number(String(d).trim())))
  child.once('exit', (code) => reject(new Error(`bench server exited ${code}`)))
})

function context(n) {
  const services = Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}`,
    description: 'bench',
    kind: 'Deployment',
    port: 10_000 + i,
    healthPath: `/api/v1/svc-${i}/health`,
    ecrRepository: `autolytiq/svc-${i}`,
    dependsOn: [],
    replicas: { min: 2, max: 4 },
  }))
  const env = environmentSchema.parse({
    region: 'us-east-1',
    accountId: '123456789012',
    domain: 'bench.autolytiq.test',
    apiDomain: 'api.bench.autolytiq.test',
    eksCluster: 'bench',
    namespace: 'bench',
    terraformDir: 't',
    kustomizeOverlay: 'k',
    drRegion: 'us-west-2',
    alertEmail: 'ops@bench.autolytiq.test',
    release: 'v1.0.0',
    terraformState: { bucket: 'b-state', lockTable: 'b-lock' },
    apiUrl: `https://localhost:${port}`,
    caFile: join(dir, 'cert.pem'),
  })
  return {
    root: repo,
    envName: 'bench',
    env,
    catalog: new Catalog(services, 'autolytiq', []),
    clients: { http: new HttpClient({ caFile: env.caFile }) },
    signal: new globalThis.AbortController().signal,
    log: () => {},
    warn: () => {},
  }
}

async function measure(n) {
  const s0 = performance.now()
  const ctx = context(n)
  const checks = verifyChecks(ctx, { layers: ['services'] })
  const startupMs = performance.now() - s0 + importMs
  if (checks.length !== n) throw new Error(`expected ${n} health checks, got ${checks.length}`)
  const sample = { concurrentMs: [], concurrentCpuMs: [], slowestCheckMs: [], singleCheckMs: [], sequentialMs: [] }
  for (let r = 0; r < runs; r++) {
    // Cold, like one CLI invocation: a fresh client with no pooled connection or TLS session.
    ctx.clients.http.close()
    ctx.clients.http = new HttpClient({ caFile: ctx.env.caFile })
    let t = performance.now()
    const cpu = process.cpuUsage()
    const reports = await runChecks(ctx, checks, { deadlineMs: 120_000 })
    sample.concurrentMs.push(performance.now() - t)
    const used = process.cpuUsage(cpu)
    sample.concurrentCpuMs.push((used.user + used.system) / 1000)
    const failed = reports.filter((x) => x.status !== 'pass')
    if (failed.length) throw new Error(`${failed.length} checks failed, e.g. ${failed[0].detail}`)
    sample.slowestCheckMs.push(Math.max(...reports.map((x) => x.ms)))
    ctx.clients.http.close()
    ctx.clients.http = new HttpClient({ caFile: ctx.env.caFile })
    t = performance.now()
    await runChecks(ctx, [checks[0]])
    sample.singleCheckMs.push(performance.now() - t)
    t = performance.now()
    for (const c of checks) await runChecks(ctx, [c])
    sample.sequentialMs.push(performance.now() - t)
  }
  const m = Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, round(median(v))]))
  return {
    services: n,
    startupMs: round(startupMs),
    ...m,
    concurrentOverSingleCheck: +(m.concurrentMs / m.singleCheckMs).toFixed(2),
    concurrentOverSlowestCheck: +(m.concurrentMs / m.slowestCheckMs).toFixed(2),
    sequentialOverConcurrent: +(m.sequentialMs / m.concurrentMs).toFixed(1),
    // Targets: the concurrent run within 1.5x one cold check at 12 services (issue #6), 2x at 200 (issue #19).
    targetMs: round((n <= 12 ? 1.5 : 2) * m.singleCheckMs),
    meetsTarget: m.concurrentMs <= (n <= 12 ? 1.5 : 2) * m.singleCheckMs,
  }
}

try {
  const results = []
  for (const n of sizes) {
    const r = await measure(n)
    results.push(r)
    process.stderr.write(
      `${n} services: concurrent ${r.concurrentMs} ms (single check ${r.singleCheckMs} ms, ${r.concurrentOverSingleCheck}x), sequential ${r.sequentialMs} ms (${r.sequentialOverConcurrent}x slower), start-up ${r.startupMs} ms\n`,
    )
  }
  const out = {
    machine: `${cpus().length} x ${cpus()[0]?.model.trim()}, node ${process.version}`,
    loadAverage1m: +loadavg()[0].toFixed(1),
    runs,
    responseMs: RESPONSE_MS,
    protocol: protocol === 'h2' ? 'HTTP/2 offered by the server (ALPN h2, http/1.1)' : 'HTTP/1.1 only',
    note:
      protocol === 'h2'
        ? 'server in its own process; the checks are streams on one verified HTTP/2 connection (a fresh client per concurrent run and per single check: cold, like one CLI invocation); concurrent = runChecks over all health checks; sequential = the same checks one after another on a warm client; singleCheck = one check run alone, cold'
        : 'server in its own process, HTTP/1.1 only; checks share keep-alive connections and resume one TLS session (a fresh client per concurrent run and per single check: cold, like one CLI invocation); concurrent = runChecks over all health checks; sequential = the same checks one after another on a warm client; singleCheck = one check run alone, cold',
    results,
  }
  writeFileSync(join(repo, 'bench', 'results', protocol === 'h2' ? 'verify.json' : 'verify-http1.json'), JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
} finally {
  child.kill()
  rmSync(dir, { recursive: true, force: true })
}
