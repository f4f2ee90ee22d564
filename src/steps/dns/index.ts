import type { AnyStep } from '../../engine/types.js'
import { dnsPropagation, tlsVerify } from './edge.js'
import { dnsRecords } from './records.js'

/** Phase 6 (DNS and TLS), registered in src/steps/index.ts. */
export const dnsSteps: AnyStep[] = [dnsRecords, dnsPropagation, tlsVerify]
