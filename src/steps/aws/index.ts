import type { AnyStep } from '../../engine/types.js'
import { preflightIdentity } from './identity.js'
import { stateBackend } from './state-backend.js'
import { dnsHostedZone } from './hosted-zone.js'
import { acmCertificate } from './certificate.js'
import { infraStatus } from './infra-status.js'
import { kubeConfig } from './kube-config.js'
import { secretsExpected } from './secrets.js'
import { ecrRepositories } from './ecr.js'
import { githubSetup } from './github.js'
import { imagesPublish, imagesVerify } from './images.js'

/** Steps of this area (plan phases 1-4 outside Terraform), registered in src/steps/index.ts. */
export const awsSteps: AnyStep[] = [
  preflightIdentity,
  stateBackend,
  dnsHostedZone,
  acmCertificate,
  infraStatus,
  kubeConfig,
  secretsExpected,
  ecrRepositories,
  githubSetup,
  imagesPublish,
  imagesVerify,
]
