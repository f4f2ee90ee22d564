import type { Context } from '../../engine/types.js'
import { kustomizeBuild, type KustomizePatch } from '../../k8s/kustomize.js'
import { imageOverrides, overlayDir, releaseImages } from '../../k8s/inputs.js'
import type { KubeObject } from '../../k8s/objects.js'

/** The Ingress in k8s/base whose certificate the deploy sets. */
export const APP_INGRESS = 'autolytiq-ingress'
export const CERTIFICATE_ANNOTATION = 'alb.ingress.kubernetes.io/certificate-arn'

export interface AppBuild {
  /** Full image references by service; omitted: the manifests' untagged names (for kinds without images). */
  images?: Record<string, string>
  certificateArn?: string
}

/**
 * The environment's overlay (autolytiq.yaml kustomizeOverlay) built in a temporary layer with the
 * environment's namespace, this release's images and the certificate ARN. The one build every
 * Phase 5 step takes its objects from, so namespaces, secret store, secrets and workloads can
 * never come from different manifests.
 */
export async function buildApp(ctx: Context, build: AppBuild = {}): Promise<KubeObject[]> {
  const patches: KustomizePatch[] = []
  if (build.certificateArn)
    patches.push({
      target: { kind: 'Ingress', name: APP_INGRESS },
      ops: [{ op: 'replace', path: `/metadata/annotations/${jsonPointerEscape(CERTIFICATE_ANNOTATION)}`, value: build.certificateArn }],
    })
  const { objects } = await kustomizeBuild(ctx.clients.exec, {
    root: ctx.root,
    dir: overlayDir(ctx),
    // autolytiq.yaml's namespace wins over the overlay's, so every step reads the same one
    namespace: ctx.env.namespace,
    images: build.images ? imageOverrides(ctx, build.images) : undefined,
    patches,
    signal: ctx.signal,
  })
  return objects
}

/** The images k8s.deploy sets: the release tag, or a per-service override (params.imageTags). */
export function deployImages(ctx: Context, imageTags: Record<string, string> = {}, registry?: string): Record<string, string> {
  return releaseImages(ctx, imageTags, registry)
}

export function ofKind(objects: KubeObject[], ...kinds: string[]): KubeObject[] {
  return objects.filter((o) => kinds.includes(o.kind))
}

/** RFC 6901: '~' and '/' inside a key. */
export function jsonPointerEscape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}
