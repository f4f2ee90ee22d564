import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync, unlinkSync, copyFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { UserError } from './errors.js'
import { redactValue } from './redact.js'

export const STATE_SCHEMA_VERSION = 1

export const stepStatus = z.enum(['pending', 'running', 'done', 'failed', 'skipped'])
export type StepStatus = z.infer<typeof stepStatus>

const stepStateSchema = z.object({
  status: stepStatus,
  attempts: z.number().int().min(0),
  runId: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  /** true when the last run changed something; false when check() found it already done. */
  changed: z.boolean().optional(),
  detail: z.string().optional(),
  error: z.string().optional(),
})
export type StepState = z.infer<typeof stepStateSchema>

const rollbackPointSchema = z.object({
  step: z.string(),
  runId: z.string(),
  at: z.string(),
  kind: z.string(),
  data: z.record(z.unknown()),
})
export type RollbackPoint = z.infer<typeof rollbackPointSchema>

const runSchema = z.object({
  id: z.string(),
  command: z.string(),
  user: z.string(),
  host: z.string(),
  awsCaller: z.string().optional(),
  release: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  result: z.enum(['running', 'succeeded', 'failed', 'interrupted']).default('running'),
})
export type RunRecord = z.infer<typeof runSchema>

const checklistAnswerSchema = z.object({
  status: z.enum(['pass', 'fail', 'warn', 'yes', 'no', 'n/a']),
  by: z.string(),
  at: z.string(),
  detail: z.string().optional(),
  automatic: z.boolean(),
  /** How a manual answer was given: a terminal, or a reviewed answers file (with its sha256). */
  via: z.string().optional(),
})
export type ChecklistAnswer = z.infer<typeof checklistAnswerSchema>

export const envStateSchema = z.object({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  environment: z.string(),
  release: z.string().optional(),
  updatedAt: z.string(),
  runs: z.array(runSchema),
  /** runbook name -> step id -> state */
  steps: z.record(z.record(stepStateSchema)),
  /** step id -> non-secret outputs (terraform outputs, certificate ARN, ALB hostname...) */
  outputs: z.record(z.record(z.unknown())),
  rollbackPoints: z.array(rollbackPointSchema),
  checklist: z.record(checklistAnswerSchema),
  baseline: z.record(z.unknown()).optional(),
})
export type EnvState = z.infer<typeof envStateSchema>

export function emptyState(environment: string): EnvState {
  return {
    schemaVersion: STATE_SCHEMA_VERSION,
    environment,
    updatedAt: new Date().toISOString(),
    runs: [],
    steps: {},
    outputs: {},
    rollbackPoints: [],
    checklist: {},
  }
}

/** Keep the file readable: old runs and rollback points beyond these are dropped. */
const MAX_RUNS = 50
const MAX_ROLLBACK_POINTS = 200

/** Where an environment's state lives. Local files now; S3 for shared environments. */
export interface StateBackend {
  readonly location: string
  read(): Promise<string | undefined>
  write(text: string): Promise<void>
  remove(): Promise<void>
}

export class LocalStateBackend implements StateBackend {
  constructor(readonly location: string) {}

  async read(): Promise<string | undefined> {
    if (!existsSync(this.location)) return undefined
    return readFileSync(this.location, 'utf8')
  }

  /** temp file, fsync, rename, fsync dir: a crash at any instant leaves the old or the new file. */
  async write(text: string): Promise<void> {
    writeFileAtomic(this.location, text)
  }

  async remove(): Promise<void> {
    if (existsSync(this.location)) {
      copyFileSync(this.location, `${this.location}.reset-${Date.now()}.bak`)
      unlinkSync(this.location)
    }
  }
}

export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = join(dirname(path), `.${Date.now()}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`)
  const fd = openSync(tmp, 'w', mode)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  try {
    const dfd = openSync(dirname(path), 'r')
    fsyncSync(dfd)
    closeSync(dfd)
  } catch {
    // fsync of a directory is not supported everywhere; the rename itself is atomic.
  }
}

export function parseState(text: string, location: string, environment = '<env>'): EnvState {
  const reset = `autolytiq state reset --env ${environment}`
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new UserError(
      `state file ${location} is not valid JSON; it was left untouched and nothing was run`,
      `inspect or restore the file, or start over with \`${reset}\` (keeps a .bak copy)`,
    )
  }
  const version = (data as { schemaVersion?: unknown })?.schemaVersion
  if (version !== STATE_SCHEMA_VERSION)
    throw new UserError(
      `state file ${location} has schema version ${JSON.stringify(version)}; this autolytiq reads version ${STATE_SCHEMA_VERSION}. The file was left untouched`,
      `use the autolytiq version that wrote it, or \`${reset}\` to start over`,
    )
  const parsed = envStateSchema.safeParse(data)
  if (!parsed.success) {
    const i = parsed.error.issues[0]!
    throw new UserError(
      `state file ${location} is malformed at ${i.path.join('.')}: ${i.message}; it was left untouched`,
      `restore it from a backup or \`${reset}\``,
    )
  }
  return parsed.data
}

/** Loads, mutates and persists one environment's state. Every save is atomic and redacted. */
export class StateStore {
  private constructor(
    private readonly backend: StateBackend,
    public state: EnvState,
  ) {}

  static async open(backend: StateBackend, environment: string): Promise<StateStore> {
    const text = await backend.read()
    const state = text === undefined ? emptyState(environment) : parseState(text, backend.location, environment)
    if (state.environment !== environment)
      throw new UserError(`state file ${backend.location} belongs to environment "${state.environment}", not "${environment}"`)
    return new StateStore(backend, state)
  }

  get location(): string {
    return this.backend.location
  }

  async save(): Promise<void> {
    const s = this.state
    s.updatedAt = new Date().toISOString()
    s.runs = s.runs.slice(-MAX_RUNS)
    s.rollbackPoints = s.rollbackPoints.slice(-MAX_ROLLBACK_POINTS)
    // Defence in depth: state never holds a secret, and any that slipped through is masked.
    await this.backend.write(JSON.stringify(redactValue(s), null, 2) + '\n')
  }

  steps(runbook: string): Record<string, StepState> {
    return (this.state.steps[runbook] ??= {})
  }

  step(runbook: string, id: string): StepState {
    return (this.steps(runbook)[id] ??= { status: 'pending', attempts: 0 })
  }

  outputs(stepId: string): Record<string, unknown> | undefined {
    return this.state.outputs[stepId]
  }

  setOutputs(stepId: string, outputs: Record<string, unknown>): void {
    this.state.outputs[stepId] = { ...this.state.outputs[stepId], ...outputs }
  }

  addRollbackPoint(point: RollbackPoint): void {
    this.state.rollbackPoints.push(point)
  }

  /** Rollback points of one kind, newest first. */
  rollbackPoints(kind?: string): RollbackPoint[] {
    return this.state.rollbackPoints.filter((p) => !kind || p.kind === kind).reverse()
  }

  async reset(): Promise<void> {
    await this.backend.remove()
    this.state = emptyState(this.state.environment)
  }
}
