import type { AnyStep } from '../../engine/types.js'
import { dbConfirm } from './confirm.js'
import { dbRecordReplicas, dbScaleDown, dbScaleUp } from './replicas.js'
import { dbRestore, dbWaitAvailable } from './restore.js'
import { dbRefreshExternalSecret, dbUpdateSecret } from './secret.js'
import { dbSnapshot } from './snapshot.js'
import { dbVerify } from './verify.js'

/** Steps of this area (runbooks/rollback-database.yaml), registered in src/steps/index.ts. */
export const rollbackSteps: AnyStep[] = [
  dbSnapshot,
  dbConfirm,
  dbRecordReplicas,
  dbScaleDown,
  dbRestore,
  dbWaitAvailable,
  dbUpdateSecret,
  dbRefreshExternalSecret,
  dbScaleUp,
  dbVerify,
]
