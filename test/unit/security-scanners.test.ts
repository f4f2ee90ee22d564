/**
 * The security posture held to two scanners nobody here wrote:
 *   - checkov 3.3.30 (PyPI) over every Terraform root, with the terraform.tfvars.json the CLI
 *     writes for that environment (so variables such as eks_public_access_cidrs are judged with
 *     their real values), and over every overlay as `k8s.deploy` renders it;
 *   - kube-score 1.20.0 (Go module github.com/zegl/kube-score) over the same rendered overlays.
 * Any finding fails the test. An accepted one is skipped at the resource it concerns, with a reason:
 * `#checkov:skip=CKV_X:reason` in HCL, `checkov.io/skip<N>: CKV_X=reason` and
 * `kube-score/ignore` + `kube-score.autolytiq.io/<check>: reason` annotations in manifests.
 * Installed by test/harness/scripts/install-scanners.sh (scripts/install-deps.sh runs it).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exec } from '../../src/clients/exec.js'
import { loadCatalog } from '../../src/config/catalog.js'
import { loadConfig } from '../../src/config/environments.js'
import type { Context } from '../../src/engine/types.js'
import { imageOverrides, releaseImages } from '../../src/k8s/inputs.js'
import { kustomizeBuild } from '../../src/k8s/kustomize.js'
import { pinImage } from '../../src/k8s/digests.js'
import { renderTfvars } from '../../src/steps/terraform/tfvars.js'
import { REPO } from '../helpers/cli.js'

const CACHE = process.env.AUTOLYTIQ_CACHE || join(homedir(), '.cache', 'autolytiq')
const CHECKOV = process.env.AUTOLYTIQ_CHECKOV || join(CACHE, 'checkov-3.3.30', 'bin', 'checkov')
const KUBE_SCORE = process.env.AUTOLYTIQ_KUBE_SCORE || join(CACHE, 'bin', 'kube-score')
const INSTALL = 'bash test/harness/scripts/install-scanners.sh'

const config = loadConfig(REPO)
const catalog = loadCatalog(REPO)
const ENVS = Object.keys(config.environments)

interface Finding {
  scanner: string
  check: string
  resource: string
  file: string
  detail: string
}
const show = (f: Finding): string => `${f.scanner} ${f.check}  ${f.resource}  (${f.file})  ${f.detail}`

/** Where a finding is, for people: a repo file, or "k8s/overlays/prod (rendered) line N". */
function where(file: string, line: number): string {
  for (const [envName, rendered] of overlayFiles) if (file === rendered) return `${config.environments[envName]!.kustomizeOverlay} (rendered) line ${line}`
  return `${relative(REPO, file)}:${line}`
}

interface CheckovResult {
  check_id: string
  check_name: string
  resource: string
  file_abs_path: string
  file_line_range: [number, number]
  check_result: { result: string; suppress_comment?: string }
}
interface CheckovReport {
  check_type: string
  results: { failed_checks: CheckovResult[]; skipped_checks: CheckovResult[]; parsing_errors: string[] }
}

let work = ''
const overlayFiles = new Map<string, string>()

/** checkov's JSON report(s) for one run; exit code 1 only means "failed checks". */
async function checkov(args: string[]): Promise<CheckovReport[]> {
  const r = await execa(CHECKOV, [...args, '--compact', '--skip-download', '-o', 'json'], {
    reject: false,
    // hermetic and offline: no version check, no download of external modules
    env: { CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true', BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'WARNING' },
    timeout: 300_000,
  })
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`checkov ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`)
  const parsed = JSON.parse(r.stdout) as CheckovReport | CheckovReport[] | { failed: number; passed: number }
  if (!Array.isArray(parsed) && !('results' in parsed)) return [] // "nothing to scan" summary
  return Array.isArray(parsed) ? parsed : [parsed]
}

function checkovFindings(reports: CheckovReport[]): { failed: Finding[]; unreasoned: Finding[]; parseErrors: string[] } {
  const asFinding = (c: CheckovResult, detail: string): Finding => ({
    scanner: 'checkov',
    check: c.check_id,
    resource: c.resource,
    file: where(c.file_abs_path, c.file_line_range[0]),
    detail,
  })
  const results = reports.map((r) => r.results)
  return {
    failed: results.flatMap((r) => r.failed_checks.map((c) => asFinding(c, c.check_name))),
    // checkov fills in a stock text when a skip comment has no reason of its own
    unreasoned: results.flatMap((r) =>
      r.skipped_checks
        .filter((c) => (c.check_result.suppress_comment ?? '').trim().length < 15 || /no comment provided/i.test(c.check_result.suppress_comment ?? ''))
        .map((c) => asFinding(c, 'skipped without a reason')),
    ),
    parseErrors: results.flatMap((r) => r.parsing_errors ?? []),
  }
}

/** The images `k8s.deploy` applies: each release tag pinned to its digest (a stand-in digest here: no registry). */
function deployedImages(envName: string): Record<string, string> {
  const ctx = { env: config.environments[envName]!, catalog } as unknown as Context
  return Object.fromEntries(
    Object.entries(releaseImages(ctx)).map(([s, ref]) => [s, pinImage(ref, `sha256:${createHash('sha256').update(ref).digest('hex')}`)]),
  )
}

beforeAll(async () => {
  for (const [bin, name] of [
    [CHECKOV, 'checkov'],
    [KUBE_SCORE, 'kube-score'],
  ] as const)
    if (!existsSync(bin)) throw new Error(`${name} is not installed at ${bin}: run \`${INSTALL}\` (scripts/install-deps.sh does)`)
  work = mkdtempSync(join(tmpdir(), 'autolytiq-scan-'))
  mkdirSync(join(work, 'k8s'))
  await Promise.all(
    ENVS.map(async (envName) => {
      const env = config.environments[envName]!
      const ctx = { env, envName, catalog } as unknown as Context
      writeFileSync(join(work, `${envName}.tfvars.json`), renderTfvars(ctx))
      const { yaml } = await kustomizeBuild(exec, {
        root: REPO,
        dir: env.kustomizeOverlay,
        namespace: env.namespace,
        images: imageOverrides(ctx, deployedImages(envName)),
      })
      const file = join(work, 'k8s', `${envName}.yaml`)
      writeFileSync(file, yaml)
      overlayFiles.set(envName, file)
    }),
  )
}, 120_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

// checkov spends most of its time starting Python: the four runs overlap
// a scan is ~45 s on a quiet machine and several minutes on two loaded cores
describe.concurrent('checkov', { timeout: 300_000 }, () => {
  it.each(ENVS)('terraform (%s root, with the tfvars the CLI writes): every finding fixed or skipped with a reason', async (envName) => {
    const env = config.environments[envName]!
    const reports = await checkov(['-d', resolve(REPO, env.terraformDir), '--var-file', join(work, `${envName}.tfvars.json`), '--framework', 'terraform'])
    const { failed, unreasoned, parseErrors } = checkovFindings(reports)
    expect(parseErrors, 'files checkov could not parse').toEqual([])
    expect([...failed, ...unreasoned].map(show), `checkov findings in ${env.terraformDir}`).toEqual([])
  })

  it('every rendered overlay: every finding fixed or skipped with a reason', async () => {
    const reports = await checkov(['-d', join(work, 'k8s'), '--framework', 'kubernetes'])
    expect(reports.length, 'checkov scanned no manifests').toBeGreaterThan(0)
    const { failed, unreasoned, parseErrors } = checkovFindings(reports)
    expect(parseErrors).toEqual([])
    expect([...failed, ...unreasoned].map(show)).toEqual([])
  })
})

interface KubeScoreObject {
  object_name: string
  object_meta: { annotations?: Record<string, string> }
  file_name: string
  file_row: number
  checks: { check: { id: string; name: string }; grade: number; skipped: boolean; comments: { path: string; summary: string }[] | null }[]
}

describe('kube-score', () => {
  it.each(ENVS)('overlay %s: no warning or critical finding; every ignore has a reason', async (envName) => {
    const file = overlayFiles.get(envName)!
    const r = await execa(KUBE_SCORE, ['score', file, '-o', 'json'], { reject: false, timeout: 60_000 })
    if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`kube-score exited ${r.exitCode}: ${r.stderr}`)
    const objects = JSON.parse(r.stdout) as KubeScoreObject[]
    expect(objects.length).toBeGreaterThan(10)
    const findings: Finding[] = []
    for (const o of objects) {
      const at = where(file, o.file_row)
      // grades: 1 critical, 5 warning, 7 almost OK, 10 OK
      for (const c of o.checks.filter((x) => !x.skipped && x.grade < 10))
        findings.push({
          scanner: 'kube-score',
          check: c.check.id,
          resource: o.object_name,
          file: at,
          detail: (c.comments ?? []).map((m) => `${m.path} ${m.summary}`.trim()).join('; ') || c.check.name,
        })
      const annotations = o.object_meta.annotations ?? {}
      for (const id of (annotations['kube-score/ignore'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean))
        if ((annotations[`kube-score.autolytiq.io/${id}`] ?? '').trim().length < 15)
          findings.push({
            scanner: 'kube-score',
            check: id,
            resource: o.object_name,
            file: at,
            detail: `ignored without a reason (annotation kube-score.autolytiq.io/${id})`,
          })
    }
    expect(findings.map(show), `kube-score findings in ${envName}`).toEqual([])
  })
})

describe('per-environment settings the scanners cannot judge', () => {
  it('prod keeps its logs at least a year; staging and prod restrict the public EKS endpoint', () => {
    expect(Number(config.environments.prod!.terraformVars.log_retention_days)).toBeGreaterThanOrEqual(365)
    for (const envName of ['staging', 'prod']) {
      const cidrs = config.environments[envName]!.terraformVars.eks_public_access_cidrs as string[]
      expect(cidrs.length, envName).toBeGreaterThan(0)
      expect(
        cidrs.filter((c) => c.endsWith('/0')),
        envName,
      ).toEqual([])
    }
  })
})
