import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join, relative, resolve } from 'node:path'
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
