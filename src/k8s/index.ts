/**
 * Kubernetes building blocks shared by the k8s, monitoring, verify and rollback steps: kustomize
 * builds in a temporary layer, server-side apply with a dry-run diff, watch-driven waits
 * (rollouts with fail-fast pod failure detection, conditions), workload snapshots and image changes.
 */
export { kustomizeBuild, layeredKustomization, kubectlBinary, type BuildOptions, type ImageOverride, type KustomizePatch, type JsonPatchOp } from './kustomize.js'
export { planApply, applyObjects, renderPlan, summarize, FIELD_MANAGER, type ObjectChange } from './apply.js'
export { diffObjects, comparable, deepEqual } from './diff.js'
export { parseManifests, objectRef, sortForApply, isClusterScoped, type KubeObject } from './objects.js'
export {
  waitForRollouts,
  rolloutStatuses,
  deploymentRolloutStatus,
  currentReplicaSet,
  podsOf,
  specObserved,
  RolloutFailedError,
  type RolloutStatus,
  type RolloutResult,
  type WaitForRolloutsOptions,
} from './rollout.js'
export { detectPodFailures, podFailures, describeFailure, lastLogs, withLogs, FAIL_FAST_REASONS, type PodFailure } from './pods.js'
export { captureWorkloads, setServiceImages, WORKLOADS_POINT, type WorkloadSnapshot, type WorkloadState, type SetImagesResult } from './workloads.js'
export { waitForObject, findCondition, describeCondition, type Verdict, type Condition } from './wait.js'
export { liveList, type LiveList } from './informer.js'
export { ecrRegistry, releaseImages, imageOverrides, splitImage, overlayDir, certificateArn, terraformOutput } from './inputs.js'
export { withSignal, apiStatus, apiMessage, isNotFound } from './api.js'
