import { createHash } from 'node:crypto'
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr'
import type { AwsTestConfig } from './components/moto.js'

/**
 * Plays CI for the sandbox (plan 4.4/4.5: CI builds and pushes the images; there is no Docker
 * engine here): as soon as phase 2's terraform apply (terraform/modules/ecr) has created a catalog
 * repository, the release tag is pushed to it as a minimal image manifest (each tag once: the
 * repositories' tags are IMMUTABLE). It never creates a repository, so images.verify still depends
 * on the runbook's own phase 2.
 */
export function startCiPublisher(opts: { aws: AwsTestConfig; repositories: string[]; tags: string[]; log(m: string): void; intervalMs?: number }): {
  stop(): void
} {
  const ecr = new ECRClient(opts.aws)
  const published = new Set<string>()
  let busy = false
  // one image per repository carrying every tag, as `docker tag` + `docker push` would leave it
  const manifestFor = (repo: string): string => {
    const digest = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`
    return JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1024, digest: digest(`${repo}:config`) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 2048, digest: digest(`${repo}:layer`) }],
    })
  }
  const tick = async (): Promise<void> => {
    if (busy || published.size === opts.repositories.length * opts.tags.length) return
    busy = true
    try {
      const existing = new Set<string>()
      let nextToken: string | undefined
      do {
        const r = await ecr.send(new DescribeRepositoriesCommand({ nextToken }))
        for (const repo of r.repositories ?? []) if (repo.repositoryName) existing.add(repo.repositoryName)
        nextToken = r.nextToken
      } while (nextToken)
      for (const repo of opts.repositories.filter((r) => existing.has(r))) {
        const images = await ecr.send(new DescribeImagesCommand({ repositoryName: repo }))
        const have = new Set((images.imageDetails ?? []).flatMap((d) => d.imageTags ?? []))
        for (const tag of opts.tags) {
          if (!have.has(tag)) {
            await ecr.send(new PutImageCommand({ repositoryName: repo, imageTag: tag, imageManifest: manifestFor(repo) }))
            opts.log(`ci: pushed ${repo}:${tag}`)
          }
          published.add(`${repo}:${tag}`)
        }
      }
    } catch (err) {
      opts.log(`ci: ${(err as Error).message}`)
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 1000)
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      ecr.destroy()
    },
  }
}
