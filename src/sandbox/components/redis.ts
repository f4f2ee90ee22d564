import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { freePort } from './ports.js'
import { spawnProcess } from './proc.js'
import { makeTempDir, removeTempDir } from './tmp.js'
import { createTestPki, type TestPki } from './tls-certs.js'
import { waitFor } from './wait.js'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'

export interface TestRedis {
  host: '127.0.0.1'
  port: number
  password: string
  /** CA that signed the server certificate (SAN: localhost, 127.0.0.1). */
  caPath: string
  /** rediss://:PASSWORD@127.0.0.1:PORT */
  url: string
  /**
   * Serve another certificate from now on (Redis reloads its TLS files on CONFIG SET), e.g. one
   * naming the ElastiCache endpoint the sandbox learns only after the server runs.
   */
  useCertificate(cert: { certPath: string; keyPath: string }): Promise<void>
  stop(): Promise<void>
}

/**
 * redis-server with TLS only (`--port 0`), `requirepass`, no client certificates and no
 * persistence. Readiness = a real TLS connection that AUTHs and PINGs.
 */
export async function startRedis(
  opts: {
    timeoutMs?: number
    /** Serve the `valid` leaf of this PKI (the sandbox's one CA); default a PKI of its own. */
    pki?: TestPki
  } = {},
): Promise<TestRedis> {
  const dir = makeTempDir('redis')
  const pki = opts.pki ?? (await createTestPki(join(dir, 'pki'), { hostname: 'localhost' }))
  const leaf = pki.leaf('valid')
  const port = await freePort()
  const password = randomBytes(16).toString('hex')
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir)
  const proc = spawnProcess({
    name: 'redis',
    command: 'redis-server',
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      leaf.certPath,
      '--tls-key-file',
      leaf.keyPath,
      '--tls-ca-cert-file',
      pki.caCertPath,
      '--tls-auth-clients',
      'no',
      '--requirepass',
      password,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dataDir,
      '--daemonize',
      'no',
      '--logfile',
      '',
    ],
    logDir: dir,
  })
  const stop = async () => {
    await proc.stop()
    removeTempDir(dir)
  }
  const admin = (): Redis =>
    new Redis({
      host: '127.0.0.1',
      port,
      password,
      tls: { ca: pki.caCert, servername: 'localhost' },
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
    })
  const useCertificate = async (cert: { certPath: string; keyPath: string }): Promise<void> => {
    const client = admin()
    client.on('error', () => {}) // errors surface through connect()/config()
    try {
      await client.connect()
      await client.config('SET', 'tls-cert-file', cert.certPath, 'tls-key-file', cert.keyPath)
    } finally {
      client.disconnect()
    }
  }
  try {
    await waitFor(
      'redis-server',
      async () => {
        const client = admin()
        client.on('error', () => {}) // errors surface through connect()/ping()
        try {
          await client.connect()
          return (await client.ping()) === 'PONG'
        } finally {
          client.disconnect()
        }
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 100, procs: [proc] },
    )
  } catch (err) {
    await stop()
    throw err
  }
  return {
    host: '127.0.0.1',
    port,
    password,
    caPath: pki.caCertPath,
    url: `rediss://:${password}@127.0.0.1:${port}`,
    useCertificate,
    stop,
  }
}
