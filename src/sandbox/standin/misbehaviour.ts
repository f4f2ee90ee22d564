import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { imageTag } from '../image-tag.js'

/**
 * Faults a stand-in plays on request, the way the node simulator crash-loops an image tagged
 * `crash`: an image tag containing `err20` answers 20 % of requests with 500, `slow500ms` adds
 * 500 ms to every answer. The health path and /metrics are never affected — the point is a
 * release whose /health says 200 while users see errors or latency.
 */
export interface Misbehaviour {
  /** Share of answers replaced by HTTP 500, 0..1. */
  errorShare: number
  delayMs: number
}

export const WELL_BEHAVED: Misbehaviour = { errorShare: 0, delayMs: 0 }

export function misbehaviourOf(image: string): Misbehaviour {
  const tag = imageTag(image)
  const err = /err(\d{1,3})/.exec(tag)
  const slow = /slow(\d{1,5})ms/.exec(tag)
  return { errorShare: err ? Math.min(100, Number(err[1])) / 100 : 0, delayMs: slow ? Number(slow[1]) : 0 }
}

/** The running image's faults. Errors are spread evenly (every 5th request for 20 %), so tests can count them. */
export class Behaviour {
  private current: Misbehaviour = WELL_BEHAVED
  private served = 0
  private image = ''

  constructor(private readonly onChange?: (image: string, m: Misbehaviour) => void) {}

  get now(): Misbehaviour {
    return this.current
  }

  setImage(image: string): void {
    if (image === this.image) return
    this.image = image
    this.current = misbehaviourOf(image)
    this.served = 0
    this.onChange?.(image, this.current)
  }

  /** True when this request is one of the injected failures. */
  nextFails(): boolean {
    const share = this.current.errorShare
    if (share <= 0) return false
    const n = this.served++
    return Math.floor((n + 1) * share) > Math.floor(n * share)
  }

  /**
   * Follows a file holding the image the cluster runs for this service (written by the sandbox
   * when the Deployment's template changes): a rollout or rollback changes the behaviour.
   */
  followFile(path: string): () => void {
    const read = (): void => {
      try {
        this.setImage(readFileSync(path, 'utf8').trim())
      } catch {
        // not written yet: keep behaving
      }
    }
    read()
    watchFile(path, { interval: 500, persistent: false }, read)
    return () => unwatchFile(path, read)
  }
}
