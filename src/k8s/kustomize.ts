import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { stringify } from 'yaml'
import { UserError } from '../engine/errors.js'
import type { Exec } from '../clients/exec.js'
import { parseManifests, type KubeObject } from './objects.js'

export interface ImageOverride {
  /** The image name in the manifests, e.g. autolytiq/api-gateway */
  name: string
  newName: string
  newTag: string
  /** sha256:…; with newTag, kustomize writes newName:newTag@digest */
  digest?: string
}

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove'
  path: string
  value?: unknown
}

export interface KustomizePatch {
  target: { kind: string; name?: string }
  ops: JsonPatchOp[]
}

export interface BuildOptions {
  /** Kustomization directory: absolute, or relative to `root`. */
  dir: string
  root: string
  /** Sets every namespaced object's namespace (kustomize `namespace:`). */
  namespace?: string
  images?: ImageOverride[]
  patches?: KustomizePatch[]
  signal?: AbortSignal
}

/** The kubectl that builds kustomizations (its embedded kustomize); AUTOLYTIQ_KUBECTL overrides. */
export function kubectlBinary(): string {
  return process.env.AUTOLYTIQ_KUBECTL || 'kubectl'
}

/** The temporary kustomization that layers this run's values over a repo kustomization. */
export function layeredKustomization(resourcePath: string, opts: Pick<BuildOptions, 'namespace' | 'images' | 'patches'>): Record<string, unknown> {
  const k: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [resourcePath],
  }
  if (opts.namespace) k.namespace = opts.namespace
  if (opts.images?.length) k.images = opts.images
  if (opts.patches?.length) k.patches = opts.patches.map((p) => ({ target: p.target, patch: stringify(p.ops) }))
  return k
}

/**
 * `kubectl kustomize` of a repo kustomization with this run's images, namespace and patches
 * layered on top in a temporary directory (the plan's `kustomize edit set image` edits the repo;
 * this never touches a repo file). Returns the objects, cluster-scoped ones without a namespace.
 */
export async function kustomizeBuild(exec: Exec, opts: BuildOptions): Promise<{ objects: KubeObject[]; yaml: string }> {
  const dir = isAbsolute(opts.dir) ? opts.dir : resolve(opts.root, opts.dir)
  if (!existsSync(join(dir, 'kustomization.yaml')))
    throw new UserError(`no kustomization.yaml in ${dir}`, 'check kustomizeOverlay in autolytiq.yaml (e.g. k8s/overlays/prod)')
  // The phase 5 and 7 steps build the same overlay with the same values several times per run
  // (each check() and run()): one kubectl process and YAML parse per distinct build and manifest
  // tree. Callers get their own copy, so one that edits its objects never changes another's.
  const key = buildKey(dir, opts)
  const hit = key ? built.get(key) : undefined
  if (hit) return { objects: structuredClone(hit.objects), yaml: hit.yaml }
  const result = await kustomizeRun(exec, dir, opts)
  if (key) built.set(key, { objects: structuredClone(result.objects), yaml: result.yaml })
  return result
}

const built = new Map<string, { objects: KubeObject[]; yaml: string }>()

/**
 * What a build depends on: the layered values and the manifest tree it reads (every file under
 * the project folder the overlay lives in, e.g. k8s/: size and modification time). Undefined (no
 * reuse) for an overlay outside the project.
 */
function buildKey(dir: string, opts: BuildOptions): string | undefined {
  const rel = relative(opts.root, dir)
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return undefined
  const tree = join(opts.root, rel.split(sep)[0]!)
  const files: string[] = []
  for (const entry of readdirSync(tree, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    // parentPath from Node 20.12; `path` before it (engines: >=20.5)
    const path = join((entry as { parentPath?: string }).parentPath ?? (entry as unknown as { path: string }).path, entry.name)
    const st = statSync(path)
    files.push(`${relative(tree, path)}:${st.size}:${st.mtimeMs}`)
  }
  return JSON.stringify([dir, opts.namespace, opts.images, opts.patches, files.sort()])
}

async function kustomizeRun(exec: Exec, dir: string, opts: BuildOptions): Promise<{ objects: KubeObject[]; yaml: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'autolytiq-kustomize-'))
  try {
    // kustomize refuses absolute resource paths; a relative one to a directory is allowed.
    writeFileSync(join(tmp, 'kustomization.yaml'), stringify(layeredKustomization(relative(tmp, dir), opts)))
    const r = await exec(kubectlBinary(), ['kustomize', tmp], { signal: opts.signal, timeoutMs: 60_000 })
    return { objects: parseManifests(r.stdout, `kubectl kustomize ${relative(opts.root, dir) || dir}`), yaml: r.stdout }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}
