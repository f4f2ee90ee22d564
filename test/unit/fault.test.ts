import { afterEach, describe, expect, it } from 'vitest'
import { AwsClients } from '../../src/clients/aws.js'
import { armKillFault, FAULT_ENV } from '../../src/engine/fault.js'
import type { Context } from '../../src/engine/types.js'

// The kill matrix itself (test/e2e/kill-matrix.test.ts) proves the kills; this pins the guard.
const ctx = (awsEndpoint?: string): Context =>
  ({ env: { awsEndpoint }, clients: { aws: new AwsClients({ region: 'us-east-1', endpoint: awsEndpoint }), exec: async () => ({}) } }) as unknown as Context

describe('fault injection (AUTOLYTIQ_FAULT_KILL)', () => {
  afterEach(() => {
    delete process.env[FAULT_ENV]
  })

  it('is never armed for an environment without a local AWS endpoint (a real account)', () => {
    process.env[FAULT_ENV] = 'k8s.deploy'
    expect(armKillFault(ctx(), 'k8s.deploy')).toBeUndefined()
  })

  it('is armed only for the listed steps of a local environment', () => {
    process.env[FAULT_ENV] = 'dns.records,k8s.deploy'
    const fault = armKillFault(ctx('http://127.0.0.1:5000'), 'k8s.deploy')
    expect(fault).toBeDefined()
    fault!.disarm()
    expect(armKillFault(ctx('http://127.0.0.1:5000'), 'k8s.rollout')).toBeUndefined()
    delete process.env[FAULT_ENV]
    expect(armKillFault(ctx('http://127.0.0.1:5000'), 'k8s.deploy')).toBeUndefined()
  })
})
