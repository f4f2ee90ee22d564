import { loadProject, stateStorage } from './context.js'
import { staleReason, type LockHolder } from './lock.js'
import { StateStore, type RunRecord, type StepState } from './state.js'
import { loadRunbook } from './runbook.js'
import { splitImage } from '../k8s/inputs.js'

export interface EnvironmentStatus {
  environment: string
  release?: string
  stateFile: string
  lock?: LockHolder & { stale?: string }
  lastRun?: RunRecord & {
    /** The step the last run stopped at, when it failed or was interrupted. */
    stoppedAt?: string
    /** Steps the last run changed: 0 means a failed run left the environment as it found it. */
    changed: number
  }
  runbook: string
  steps: {
    id: string
    phase: number
    status: StepState['status']
    attempts: number
    endedAt?: string
    detail?: string
    error?: string
  }[]
  next?: string
  rollbackPoints: number
  /** What the last k8s.deploy applied, per service: the tag people read and the digest that runs. */
  images: { service: string; tag: string; digest?: string }[]
}

/** State + lock only: no outside system is contacted. */
export async function environmentStatus(envFlag: string | undefined, runbookName = 'go-live'): Promise<EnvironmentStatus> {
  const info = loadProject(envFlag)
  const storage = stateStorage(info)
  const store = await StateStore.open(storage.backend, info.envName)
  const holder = await storage.lock.holder()
  // No step registry: status reads only the runbook's ids and the state, so it starts fast and
  // works even when a step module cannot load. `runbook show` is where implementations are listed.
  const rb = loadRunbook(info.root, runbookName, new Map())
  const states = store.steps(runbookName)
  const steps = rb.steps.map((s) => {
    const st = states[s.id] ?? { status: 'pending' as const, attempts: 0 }
    return {
      id: s.id,
      phase: s.phase.number,
      status: st.status,
      attempts: st.attempts,
      endedAt: st.endedAt,
      detail: st.detail,
      error: st.error,
    }
  })
  const firstNotDone = steps.find((s) => s.status !== 'done' && s.status !== 'skipped')
  const last = store.state.runs.at(-1)
  const ofLast = last ? Object.entries(states).filter(([, st]) => st.runId === last.id) : []
  return {
    environment: info.envName,
    release: store.state.release,
    stateFile: store.location,
    lock: holder ? { ...holder, stale: staleReason(holder) } : undefined,
    lastRun: last && {
      ...last,
      stoppedAt:
        last.result === 'failed' || last.result === 'interrupted' ? ofLast.find(([, st]) => st.status === 'failed' || st.status === 'running')?.[0] : undefined,
      changed: ofLast.filter(([, st]) => st.changed).length,
    },
    runbook: runbookName,
    steps,
    next: firstNotDone?.id,
    rollbackPoints: store.state.rollbackPoints.length,
    images: deployedImages(store.outputs('k8s.deploy')?.images),
  }
}

function deployedImages(images: unknown): EnvironmentStatus['images'] {
  if (!images || typeof images !== 'object') return []
  return Object.entries(images as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([service, image]) => {
      const { tag, digest } = splitImage(image)
      return digest ? { service, tag, digest } : { service, tag }
    })
}
