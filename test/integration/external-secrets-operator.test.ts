/**
 * The real External Secrets Operator v0.19.2 (built from the Go module proxy, started once by the
 * harness with its upstream chart and CRDs) against the harness API server and moto:
 *   - the project's ClusterSecretStore authenticates through IRSA for real: TokenRequest for the
 *     chart's service account, AssumeRoleWithWebIdentity at moto, Secrets Manager with the result;
 *   - the project's ExternalSecret composes DATABASE_URL/REDIS_URL from terraform's fields, with a
 *     generated-looking password full of URL metacharacters, and a real PostgreSQL accepts it;
 *   - a value changed in Secrets Manager reaches the Secret (force-sync, and refreshInterval);
 *   - the upstream CRDs reject a misspelled field, and k8s.secret-store / k8s.external-secrets say so.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node'
import pg from 'pg'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { execa } from 'execa'
import { esoInstall } from '../harness/external-secrets.js'
import { awsConfigFor } from '../harness/moto.js'
import { REPO } from '../helpers/cli.js'
import { k8sProject, kubeConfigFrom, runSteps, seedEarlierPhases, useProject, type K8sProject } from '../helpers/k8s.js'

const kube = inject('kube')
const aws = inject('aws')
const postgres = inject('postgres')
const eso = inject('externalSecrets')
const helm = inject('helmPath')
const id = randomBytes(3).toString('hex')
// A password as a generator may make it: every character a URL's userinfo must not hold raw.
const NASTY = `p@ss:w/rd?#%+ x&=${id}`

type Obj = KubernetesObject & {
  spec?: Record<string, unknown>
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
}

const ready = (o: Obj | undefined): boolean => !!o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')

describe.skipIf(!kube || !aws || !eso || !postgres || !helm)('the real External Secrets Operator against the API server and moto', () => {
  const namespace = `eso-${id}`
  const env = `eso${id}`
  const kc = kube ? kubeConfigFrom(kube.kubeconfigPath) : undefined!
  const objects = KubernetesObjectApi.makeApiClient(kc)
  const core = kc.makeApiClient(CoreV1Api)
  const custom = kc.makeApiClient(CustomObjectsApi)
  // the account of the role on the chart's service account: what AssumeRoleWithWebIdentity returns credentials for
  const sm = new SecretsManagerClient(awsConfigFor(aws?.endpoint ?? 'http://127.0.0.1:1'))
  const projects: K8sProject[] = []
  let admin: pg.Client

  const apply = async (o: KubernetesObject): Promise<void> => {
    await objects.patch(o, undefined, undefined, 'eso-test', true, PatchStrategy.ServerSideApply)
  }
  const read = async (kind: 'ExternalSecret' | 'ClusterSecretStore', name: string): Promise<Obj | undefined> =>
    (await objects
      .read({ apiVersion: 'external-secrets.io/v1', kind, metadata: { name, ...(kind === 'ExternalSecret' ? { namespace } : {}) } })
      .catch(() => undefined)) as Obj | undefined
  const secretData = async (name: string): Promise<Record<string, string> | undefined> => {
    try {
      const s = await core.readNamespacedSecret({ name, namespace })
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
    } catch {
      return undefined
    }
  }
  const put = async (name: string, value: Record<string, unknown>): Promise<void> => {
    const SecretString = JSON.stringify(value)
    await sm.send(new CreateSecretCommand({ Name: `autolytiq/${env}/${name}`, SecretString })).catch(async (err: { name?: string }) => {
      if (err.name !== 'ResourceExistsException') throw err
      await sm.send(new PutSecretValueCommand({ SecretId: `autolytiq/${env}/${name}`, SecretString }))
    })
  }
  /** The project's ExternalSecret manifest, for this test's environment and namespace. */
  const projectExternalSecret = (file: string): Obj => {
    const o = parse(readFileSync(join(REPO, 'k8s', 'external-secrets', file), 'utf8').replaceAll('autolytiq/ENVIRONMENT/', `autolytiq/${env}/`)) as Obj
    o.metadata = { ...o.metadata, namespace }
    return o
  }

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    // the project's store, as k8s.secret-store applies it (every test applies the same one)
    const store = parse(readFileSync(join(REPO, 'k8s', 'external-secrets', 'cluster-secret-store.yaml'), 'utf8')) as KubernetesObject
    await apply(store)
    // terraform's eight secrets for this test's environment; the database user really exists
    admin = new pg.Client({ connectionString: postgres!.adminUrl })
    await admin.connect()
    const user = `eso_${id}@desk`
    await admin.query(`CREATE ROLE "${user}" LOGIN PASSWORD '${NASTY.replaceAll("'", "''")}'`)
    await put('database', { engine: 'postgres', host: postgres!.host, port: postgres!.port, dbname: postgres!.database, username: user, password: NASTY })
    await put('redis', { host: 'redis.internal', port: 6379, auth_token: NASTY, tls: true })
    await put('jwt', { secret: `jwt-${id}-one` })
    await put('pii-encryption', { key: 'a2V5' })
    await put('session', { secret: `session-${id}` })
    await put('resend', { api_key: `re_${id}` })
    await put('external-apis', {
      sentry_dsn: `https://k@sentry.test/${id}`,
      datadog_api_key: '',
      stripe_secret_key: 'REPLACE_ME',
      stripe_webhook_secret: 'REPLACE_ME',
    })
    await put('smtp', { host: 'smtp.test', port: '587', username: 'desk', password: `smtp-${id}`, from: 'noreply@desk.test' })
  })
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined)
    await admin?.query(`DROP ROLE IF EXISTS "eso_${id}@desk"`).catch(() => undefined)
    await admin?.end()
    sm.destroy()
    for (const p of projects) p.cleanup()
  })

  it('IRSA: the ClusterSecretStore is Ready through TokenRequest and AssumeRoleWithWebIdentity (moto), with no AWS keys of its own', async () => {
    await expect.poll(async () => ready(await read('ClusterSecretStore', 'aws-secrets-manager')), { timeout: 60_000, interval: 250 }).toBe(true)
    // the same store for a service account without the role annotation: no credentials at all
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'no-role' } } })
    const store = parse(readFileSync(join(REPO, 'k8s', 'external-secrets', 'cluster-secret-store.yaml'), 'utf8')) as Obj
    store.metadata = { name: `no-role-${id}` }
    ;(store.spec as { provider: { aws: { auth: { jwt: { serviceAccountRef: unknown } } } } }).provider.aws.auth.jwt.serviceAccountRef = {
      name: 'no-role',
      namespace,
    }
    await apply(store)
    await expect
      .poll(async () => (await read('ClusterSecretStore', `no-role-${id}`))?.status?.conditions?.find((c) => c.type === 'Ready'), {
        timeout: 60_000,
        interval: 250,
      })
      .toMatchObject({ status: 'False', reason: 'InvalidProviderConfig', message: 'unable to create client' })
    await objects.delete(store).catch(() => undefined)
  })

  it('composes DATABASE_URL/REDIS_URL from terraform’s fields; the URL-encoded password works against PostgreSQL', async () => {
    await apply(projectExternalSecret('external-secret.yaml'))
    await expect.poll(async () => ready(await read('ExternalSecret', 'autolytiq-secrets')), { timeout: 60_000, interval: 250 }).toBe(true)
    const data = (await secretData('autolytiq-secrets'))!
    // only the composed keys: the db_*/redis_* inputs stay out of the Secret
    expect(Object.keys(data).sort()).toEqual([
      'DATABASE_URL',
      'JWT_SECRET',
      'PII_ENCRYPTION_KEY',
      'REDIS_URL',
      'RESEND_API_KEY',
      'SENTRY_DSN',
      'SESSION_SECRET',
    ])
    const db = new URL(data.DATABASE_URL!)
    expect([db.protocol, db.hostname, db.port, db.pathname]).toEqual(['postgres:', postgres!.host, String(postgres!.port), `/${postgres!.database}`])
    expect(decodeURIComponent(db.username)).toBe(`eso_${id}@desk`)
    expect(decodeURIComponent(db.password)).toBe(NASTY)
    const redis = new URL(data.REDIS_URL!)
    expect([redis.protocol, redis.hostname, redis.port, decodeURIComponent(redis.password)]).toEqual(['rediss:', 'redis.internal', '6379', NASTY])
    // the driver the services use parses the URL the same way: the login succeeds
    const client = new pg.Client({ connectionString: data.DATABASE_URL })
    await client.connect()
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe(`eso_${id}@desk`)
    } finally {
      await client.end()
    }
  })

  it('a value changed in Secrets Manager reaches the Secret: at once with force-sync, and on refreshInterval', async () => {
    await put('jwt', { secret: `jwt-${id}-two` })
    await custom.patchNamespacedCustomObject(
      {
        group: 'external-secrets.io',
        version: 'v1',
        namespace,
        plural: 'externalsecrets',
        name: 'autolytiq-secrets',
        body: { metadata: { annotations: { 'force-sync': String(Date.now()) } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    await expect.poll(async () => (await secretData('autolytiq-secrets'))?.JWT_SECRET, { timeout: 30_000, interval: 200 }).toBe(`jwt-${id}-two`)

    const smtp = projectExternalSecret('smtp-secret.yaml')
    smtp.spec!.refreshInterval = '1s'
    await apply(smtp)
    await expect.poll(async () => (await secretData('autolytiq-smtp'))?.SMTP_PASSWORD, { timeout: 30_000, interval: 200 }).toBe(`smtp-${id}`)
    await put('smtp', { host: 'smtp.test', port: '587', username: 'desk', password: `smtp-${id}-rotated`, from: 'noreply@desk.test' })
    await expect.poll(async () => (await secretData('autolytiq-smtp'))?.SMTP_PASSWORD, { timeout: 30_000, interval: 200 }).toBe(`smtp-${id}-rotated`)
  })

  it('a property terraform does not write: the operator reports the upstream error and k8s.external-secrets fails with it', async () => {
    const bad = projectExternalSecret('external-secret.yaml')
    bad.metadata!.name = 'reads-url'
    ;(bad.spec as { target: { name: string } }).target.name = 'reads-url'
    ;(bad.spec as { data: { remoteRef: { property: string } }[] }).data[0]!.remoteRef.property = 'url'
    await apply(bad)
    await expect
      .poll(async () => (await read('ExternalSecret', 'reads-url'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, {
        timeout: 60_000,
        interval: 250,
      })
      .toBe('SecretSyncedError')
    expect(await secretData('reads-url')).toBeUndefined()
  })

  it('the upstream chart checks helm.external-secrets’ values with its own values.schema.json', async () => {
    const chart = esoInstall().chartDir
    const run = (values: unknown) =>
      execa(helm!, ['template', 'external-secrets', chart, '--set-json', `serviceAccount=${JSON.stringify(values)}`], { reject: false })
    expect((await run({ create: true, name: 'external-secrets' })).exitCode).toBe(0)
    const bad = await run({ create: 'yes', name: 'external-secrets' })
    expect(bad.exitCode).not.toBe(0)
    expect(bad.stderr).toContain("at '/serviceAccount/create': got string, want boolean")
  })

  it('misspelled fields are rejected by the upstream CRDs, and k8s.secret-store / k8s.external-secrets name them', async () => {
    const store = parse(readFileSync(join(REPO, 'k8s', 'external-secrets', 'cluster-secret-store.yaml'), 'utf8')) as Obj
    const jwt = (store.spec as { provider: { aws: { auth: { jwt: Record<string, unknown> } } } }).provider.aws.auth.jwt
    jwt.serviceAccount = jwt.serviceAccountRef
    delete jwt.serviceAccountRef
    store.metadata!.name = `misspelled-${id}`
    await expect(apply(store)).rejects.toThrow(/serviceAccount/)

    // the same mistake in the project's manifests: the steps stop before applying anything, naming the field
    const p = k8sProject(kube!.kubeconfigPath, {}, [
      { uses: 'k8s.namespaces' },
      { uses: 'k8s.secret-store', with: { timeoutSeconds: 30 } },
      { uses: 'k8s.external-secrets', with: { timeoutSeconds: 30 } },
    ])
    projects.push(p)
    useProject(p)
    await seedEarlierPhases(p)
    const storeFile = join(p.root, 'k8s', 'external-secrets', 'cluster-secret-store.yaml')
    writeFileSync(storeFile, readFileSync(storeFile, 'utf8').replace('serviceAccountRef:', 'serviceAccount:'))
    const r1 = await runSteps({ only: ['k8s.secret-store'] })
    expect(r1.result).toBe('failed')
    expect(r1.error?.step).toBe('k8s.secret-store')
    expect(r1.error?.message).toMatch(/ClusterSecretStore aws-secrets-manager.*\.spec\.provider\.aws\.auth\.jwt\.serviceAccount: field not declared in schema/)
    expect(r1.error?.next).toMatch(/k8s\//)

    writeFileSync(storeFile, readFileSync(storeFile, 'utf8').replace('serviceAccount:', 'serviceAccountRef:'))
    const esFile = join(p.root, 'k8s', 'external-secrets', 'external-secret.yaml')
    writeFileSync(esFile, readFileSync(esFile, 'utf8').replace('property: password }', 'propery: password }'))
    const r2 = await runSteps({ only: ['k8s.namespaces', 'k8s.external-secrets'] })
    expect(r2.result).toBe('failed')
    expect(r2.error?.step).toBe('k8s.external-secrets')
    expect(r2.error?.message).toMatch(/ExternalSecret .*autolytiq-secrets.*\.spec\.data\[4\]\.remoteRef\.propery: field not declared in schema/)
  })
})
