import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { hostname, userInfo } from 'node:os'
import { redactValue } from './redact.js'

export interface AuditEntry {
  at: string
  runId: string
  user: string
  host: string
  environment: string
  action: string
  step?: string
  params?: Record<string, unknown>
  result: 'ok' | 'failed' | 'started' | 'skipped'
  detail?: string
  durationMs?: number
}

/** Append-only JSON lines, one per mutating action. Secrets are redacted before writing. */
export interface AuditLog {
  append(entry: Omit<AuditEntry, 'at' | 'user' | 'host'>): Promise<void>
  read(): Promise<AuditEntry[]>
}

export class LocalAuditLog implements AuditLog {
  constructor(readonly path: string) {}

  async append(entry: Omit<AuditEntry, 'at' | 'user' | 'host'>): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    const full: AuditEntry = { at: new Date().toISOString(), user: userInfo().username, host: hostname(), ...entry }
    // O_APPEND writes of one line are atomic for lines this short, so concurrent writers never interleave.
    appendFileSync(this.path, JSON.stringify(redactValue(full)) + '\n', { mode: 0o600 })
  }

  async read(): Promise<AuditEntry[]> {
    if (!existsSync(this.path)) return []
    const out: AuditEntry[] = []
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue
      try {
        out.push(JSON.parse(line) as AuditEntry)
      } catch {
        // A line torn by a crash mid-write is skipped, not fatal: the rest of the log still matters.
      }
    }
    return out
  }
}
