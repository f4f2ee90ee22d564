import type { RollbackPoint } from '../../engine/state.js'
import type { Context } from '../../engine/types.js'

/** Restores Kubernetes workloads to recorded rollback points (implemented with the rollback commands). */
export async function rollbackToPoints(_ctx: Context, points: RollbackPoint[]): Promise<string> {
  return `${points.length} rollback point(s) recorded; automatic restore is not implemented yet — use \`autolytiq rollback\``
}
