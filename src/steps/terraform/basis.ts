import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { Context } from '../../engine/types.js'
import { httpStatus, isAwsError } from '../aws/util.js'
import { configDir, dataDir } from './tf.js'
import { tfvarsPath } from './tfvars.js'

/**
 * What a plan was made from, so a resumed deploy can tell that nothing a plan reads has changed
 * since terraform last planned or applied in it — without planning every resource again:
 * - the S3 version of the state object (any state write — an apply, even a killed one, `state rm`,
 *   `rollback infra` — makes a new version);
 * - a digest of the inputs: terraform.tfvars.json, every file of the root configuration and of
 *   each local module terraform init installed (TF_DATA_DIR/modules/modules.json), the provider
 *   lock file, and the files modules read with file("${path.module}/…") (the service catalog).
 * What it cannot see is a change made in AWS outside Terraform: that is why it is only trusted
 * within one deploy (no run has succeeded since), and a new deploy plans for real.
 */
export interface PlanBasis {
  stateVersionId: string
  inputsDigest: string
  /** The run that planned (or applied). */
  runId: string
}

/** The state object now: absent (no apply yet), or there with its S3 version (undefined without versioning). */
async function stateObject(ctx: Context): Promise<{ exists: boolean; versionId?: string }> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3')
  const ts = ctx.env.terraformState
  try {
    const head = await (await ctx.clients.aws.s3()).send(new HeadObjectCommand({ Bucket: ts.bucket, Key: ts.key }))
    return { exists: true, versionId: head.VersionId }
  } catch (err) {
    if (httpStatus(err) === 404 || isAwsError(err, 'NotFound', 'NoSuchKey')) return { exists: false }
    throw err
  }
}

/** The S3 version of the state object now: what `rollback infra --state-version` restores. */
export async function stateVersion(ctx: Context): Promise<string | undefined> {
  return (await stateObject(ctx)).versionId
}

/** Stands for "no state object yet" in a basis: the first write of the state makes a version. */
export const NO_STATE_YET = '(no state yet)'

/** Every regular file under dir (dot entries skipped: .terraform, editor files), sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.') && name !== '.terraform.lock.hcl') continue
      const p = join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) out.push(p)
    }
  }
  walk(dir)
  return out
}

/** sha256 over the inputs of a plan (see PlanBasis); undefined without terraform.tfvars.json. */
export function inputsDigest(ctx: Context): string | undefined {
  const modulesJson = join(dataDir(ctx), 'modules', 'modules.json')
  const tfvars = tfvarsPath(ctx)
  if (!existsSync(tfvars)) return undefined
  const root = configDir(ctx)
  // no modules.json: a configuration without module calls (or init not run: plan fails anyway)
  let modules: { Dir?: string }[] = []
  try {
    if (existsSync(modulesJson)) modules = (JSON.parse(readFileSync(modulesJson, 'utf8')) as { Modules?: { Dir?: string }[] }).Modules ?? []
  } catch {
    return undefined
  }
  const dirs = [...new Set([root, ...modules.map((m) => resolve(root, m.Dir ?? '.'))])].sort()
  const files = [...new Set(dirs.flatMap((d) => (existsSync(d) ? filesUnder(d) : [])))].sort()
  // Files a module reads with file("${path.module}/…") outside its own directory (modules/ecr reads
  // the service catalog: a new service is a new repository).
  const read = new Set<string>()
  for (const f of files.filter((f) => f.endsWith('.tf')))
    for (const m of readFileSync(f, 'utf8').matchAll(/file\("\$\{path\.module\}\/([^"$]+)"\)/g)) read.add(resolve(dirname(f), m[1]!))
  for (const f of [...read].sort()) if (existsSync(f) && !files.includes(f)) files.push(f)
  const h = createHash('sha256')
  h.update(`tfvars\0${readFileSync(tfvars, 'utf8')}\0`)
  for (const f of files) h.update(`${relative(ctx.root, f)}\0`).update(readFileSync(f)).update('\0')
  return h.digest('hex')
}

/** The basis now: the state object's version and the inputs' digest (undefined: cannot tell). */
export async function currentBasis(ctx: Context): Promise<Omit<PlanBasis, 'runId'> | undefined> {
  const inputs = inputsDigest(ctx)
  if (!inputs) return undefined
  const state = await stateObject(ctx)
  // a state object without a version (a bucket without versioning): changes cannot be told apart
  const version = state.exists ? state.versionId : NO_STATE_YET
  if (!version) return undefined
  return { stateVersionId: version, inputsDigest: inputs }
}

/**
 * True when `runId` is this deploy: it is in the state's run history and no run from it on has
 * succeeded (the runs since were interrupted, killed — left `running` — or failed, e.g. at the
 * go-live checklist). After a run succeeds, the next deploy plans for real (drift outside Terraform).
 */
export function sameDeploy(ctx: Context, runId: string): boolean {
  const runs = ctx.state.state.runs
  const at = runs.findIndex((r) => r.id === runId)
  if (at < 0) return false
  return runs.slice(at).every((r) => r.id === ctx.runId || r.result !== 'succeeded')
}

/** Why `recorded` still holds (same state version, same inputs, same deploy), or undefined. */
export function basisHolds(ctx: Context, recorded: Partial<PlanBasis> | undefined, now: Omit<PlanBasis, 'runId'> | undefined): boolean {
  if (!recorded?.stateVersionId || !recorded.inputsDigest || !recorded.runId || !now) return false
  return recorded.stateVersionId === now.stateVersionId && recorded.inputsDigest === now.inputsDigest && sameDeploy(ctx, recorded.runId)
}
