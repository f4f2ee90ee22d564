import type { AnyStep } from '../../engine/types.js'
import { k8sDeploy } from './deploy.js'
import { k8sExternalSecrets } from './external-secrets.js'
import { helmAlbController, helmExternalSecrets, helmMetricsServer } from './helm.js'
import { k8sIngressAddress } from './ingress-address.js'
import { k8sMigrate } from './migrate.js'
import { k8sNamespaces } from './namespaces.js'
import { k8sRollout } from './rollout.js'
import { k8sSecretStore } from './secret-store.js'
import { k8sStorageClass } from './storage-class.js'

/** Steps of this area (Phase 5), registered in src/steps/index.ts. */
export const k8sSteps: AnyStep[] = [
  helmAlbController,
  helmExternalSecrets,
  helmMetricsServer,
  k8sStorageClass,
  k8sNamespaces,
  k8sSecretStore,
  k8sExternalSecrets,
  k8sDeploy,
  k8sRollout,
  k8sMigrate,
  k8sIngressAddress,
]
