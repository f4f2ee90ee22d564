import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AwsClients, awsTimeoutMs } from '../../src/clients/aws.js'
import { ExternalError, isTransient } from '../../src/engine/errors.js'

/**
 * An AWS endpoint that accepts connections and never answers (a hung proxy, a stopped process):
 * a real TCP server that reads and stays silent. Without a socket timeout the SDK waited 300 s
 * per attempt; now each attempt gives up after AUTOLYTIQ_AWS_TIMEOUT_SECONDS and the error names
 * the endpoint. test/integration/faults.test.ts does the same to a SIGSTOPped moto through the CLI.
 */
describe('AWS calls to an endpoint that never answers', () => {
  let server: Server
  let endpoint: string
  const sockets = new Set<Socket>()
  let accepted = 0

  beforeAll(async () => {
    server = createServer((s) => {
      accepted++
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.resume()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })

  it('default: 15 s of silence per attempt; AUTOLYTIQ_AWS_TIMEOUT_SECONDS overrides it', () => {
    const before = process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS
    try {
      delete process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS
      expect(awsTimeoutMs()).toBe(15_000)
      process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS = '2.5'
      expect(awsTimeoutMs()).toBe(2_500)
      process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS = 'nonsense'
      expect(awsTimeoutMs()).toBe(15_000)
    } finally {
      if (before === undefined) delete process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS
      else process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS = before
    }
  })

  it('each attempt times out, the SDK retries, then one error names the endpoint and the call', async () => {
    const before = process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS
    process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS = '0.3'
    try {
      const aws = new AwsClients({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } })
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
      const t0 = Date.now()
      const err = await (await aws.sts()).send(new GetCallerIdentityCommand({})).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ExternalError)
      expect((err as Error).message).toBe(`the AWS endpoint ${endpoint} did not answer sts.GetCallerIdentity (no response within 0.3 s, 4 attempts)`)
      // The SDK already retried: the runner must not multiply the wait by retrying again.
      expect(isTransient(err)).toBe(false)
      expect(accepted).toBe(4)
      expect(Date.now() - t0).toBeLessThan(10_000)
    } finally {
      if (before === undefined) delete process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS
      else process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS = before
    }
  })
})
