import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { STSClient } from '@aws-sdk/client-sts'
import type { S3Client } from '@aws-sdk/client-s3'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { ACMClient } from '@aws-sdk/client-acm'
import type { Route53Client } from '@aws-sdk/client-route-53'
import type { ECRClient } from '@aws-sdk/client-ecr'
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { RDSClient } from '@aws-sdk/client-rds'
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache'
import type { EKSClient } from '@aws-sdk/client-eks'
import { ExternalError, UserError } from '../engine/errors.js'

export interface AwsSettings {
  region: string
  endpoint?: string
  profile?: string
  /** Static credentials (sandbox/tests only); otherwise the SDK's default chain or the profile. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
}

export interface AwsCall {
  service: string
  operation: string
  mutating: boolean
}

/**
 * How long one AWS call may stay silent (and a connection take) before the SDK gives up on that
 * attempt and retries it (maxAttempts below). Without it the SDK waits 300 s per attempt for an
 * endpoint that accepts connections but never answers (a hung proxy, a stopped process), so a
 * step looked stuck for 20 minutes. It is an inactivity limit: a slow but moving transfer is fine.
 * AUTOLYTIQ_AWS_TIMEOUT_SECONDS overrides it (tests, slow links).
 */
export function awsTimeoutMs(): number {
  const s = Number(process.env.AUTOLYTIQ_AWS_TIMEOUT_SECONDS)
  return s > 0 ? s * 1000 : 15_000
}

const MAX_ATTEMPTS = 4

/** Read-only operations by name; anything else counts as mutating (for the idempotency evidence). */
const READ_ONLY = /^(Describe|List|Get|Head|Query|Scan|Wait|Check)/

interface Middlewared {
  middlewareStack: { add(mw: unknown, opts: unknown): void }
}

/**
 * The one place AWS SDK v3 clients are built. Clients are created lazily (cold start), share one
 * configuration, record every call (so tests can assert "zero mutating calls on a re-run") and
 * turn credential and network failures into messages that say what to do next.
 */
export class AwsClients {
  readonly calls: AwsCall[] = []
  private cache = new Map<string, unknown>()

  constructor(readonly settings: AwsSettings) {}

  get mutatingCalls(): AwsCall[] {
    return this.calls.filter((c) => c.mutating)
  }

  private config(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const s = this.settings
    return {
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      ...(s.profile ? { profile: s.profile } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: { connectionTimeout: Math.min(5_000, awsTimeoutMs()), socketTimeout: awsTimeoutMs() },
      ...extra,
    }
  }

  private async make<T>(name: string, load: () => Promise<new (cfg: Record<string, unknown>) => T>, extra?: Record<string, unknown>): Promise<T> {
    const key = `${name}:${JSON.stringify(extra ?? {})}`
    const hit = this.cache.get(key)
    if (hit) return hit as T
    const Ctor = await load()
    const client = new Ctor(this.config(extra))
    this.instrument(client as unknown as Middlewared, name)
    this.cache.set(key, client)
    return client
  }

  private instrument(client: Middlewared, service: string): void {
    const calls = this.calls
    const endpoint = this.settings.endpoint
    const profile = this.settings.profile
    client.middlewareStack.add(
      (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '')
        calls.push({ service, operation, mutating: !READ_ONLY.test(operation) })
        try {
          return await next(args)
        } catch (err) {
          throw translateAwsError(err, `${service}.${operation}`, endpoint, profile)
        }
      },
      { step: 'initialize', name: 'autolytiqCallRecorder', priority: 'high' },
    )
  }

  sts = () => this.make<STSClient>('sts', async () => (await import('@aws-sdk/client-sts')).STSClient)
  s3 = () => this.make<S3Client>('s3', async () => (await import('@aws-sdk/client-s3')).S3Client, { forcePathStyle: Boolean(this.settings.endpoint) })
  dynamodb = () => this.make<DynamoDBClient>('dynamodb', async () => (await import('@aws-sdk/client-dynamodb')).DynamoDBClient)
  /** ACM certificates for CloudFront must live in us-east-1; ALB certificates in the cluster's region. */
  acm = () => this.make<ACMClient>('acm', async () => (await import('@aws-sdk/client-acm')).ACMClient)
  route53 = () => this.make<Route53Client>('route53', async () => (await import('@aws-sdk/client-route-53')).Route53Client)
  ecr = () => this.make<ECRClient>('ecr', async () => (await import('@aws-sdk/client-ecr')).ECRClient)
  secrets = () => this.make<SecretsManagerClient>('secretsmanager', async () => (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient)
  rds = (region?: string) => this.make<RDSClient>('rds', async () => (await import('@aws-sdk/client-rds')).RDSClient, region ? { region } : undefined)
  elasticache = () => this.make<ElastiCacheClient>('elasticache', async () => (await import('@aws-sdk/client-elasticache')).ElastiCacheClient)
  eks = () => this.make<EKSClient>('eks', async () => (await import('@aws-sdk/client-eks')).EKSClient)
}

const EXPIRED = [
  // S3's code for an access key AWS does not know (the other services say InvalidClientTokenId);
  // without it a wrong key reached the engineer as "unexpected error" from rollback infra and the state backend.
  'InvalidAccessKeyId',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]

/**
 * Whether a named profile exists in the AWS config or credentials file (the SDK only says
 * "Could not load credentials from any providers" for a profile that is not there).
 */
export function profileConfigured(name: string): boolean {
  const files = [
    process.env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'),
    process.env.AWS_SHARED_CREDENTIALS_FILE ?? join(homedir(), '.aws', 'credentials'),
  ]
  const header = new RegExp(`^\\s*\\[\\s*(profile\\s+)?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]`, 'm')
  return files.some((f) => existsSync(f) && header.test(readFileSync(f, 'utf8')))
}

/** Credential and network failures become one clear message with the next step; the rest pass through. */
export function translateAwsError(err: unknown, call: string, endpoint?: string, profile?: string): unknown {
  if (!(err instanceof Error)) return err
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } }
  // The profile in use: autolytiq.yaml's awsProfile, else the engineer's AWS_PROFILE.
  const active = profile ?? process.env.AWS_PROFILE
  const login = active ? `aws sso login --profile ${active}` : 'aws sso login'
  if (EXPIRED.includes(e.name))
    return new UserError(
      `AWS rejected the credentials during ${call}: ${e.name} (expired or invalid)`,
      `run \`${login}\` (or refresh your AWS credentials), then re-run the same command`,
    )
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message)) {
    // A profile that is not in ~/.aws/config: logging in to it cannot work; say what to fix.
    if (active && !profileConfigured(active))
      return new UserError(
        `AWS profile "${active}" is not configured on this machine (${profile ? 'awsProfile in autolytiq.yaml' : 'AWS_PROFILE'})`,
        `create it with \`aws configure sso --profile ${active}\`, or ${profile ? 'fix awsProfile in autolytiq.yaml' : 'set AWS_PROFILE to a profile in ~/.aws/config'}; then re-run the same command`,
      )
    return new UserError(
      `no AWS credentials found for ${call}${active ? ` (profile ${active})` : ''}`,
      active
        ? `run \`${login}\`, then re-run the same command`
        : 'run `aws sso login` (or export AWS credentials), or set AWS_PROFILE; then re-run the same command',
    )
  }
  // An endpoint set in autolytiq.yaml is the sandbox's moto; otherwise it is AWS itself.
  const reachNext = endpoint
    ? `check that the local AWS endpoint is running (\`autolytiq sandbox status\`), then re-run the same command`
    : 'check the network path to AWS (VPN, proxy, `aws sts get-caller-identity`), then re-run the same command'
  // The SDK has already retried the call (every attempt timed out): say which endpoint is silent.
  if (e.name === 'TimeoutError')
    return new ExternalError(
      `the AWS endpoint${endpoint ? ` ${endpoint}` : ''} did not answer ${call} (no response within ${awsTimeoutMs() / 1000} s, ${MAX_ATTEMPTS} attempts)`,
      call,
      undefined,
      false,
      reachNext,
    )
  // The SDK could not parse the answer (HTML or XML where JSON was expected: a proxy, a wrong
  // endpoint, or an error page in front of the API). It used to surface as "unexpected error:
  // Unexpected token '<' ... this is a bug"; say what happened and, for 401/403, that the
  // request was refused (most often credentials) before anything was done.
  if (/Deserialization error/.test(e.message)) {
    const status = e.$metadata?.httpStatusCode
    const where = `the AWS endpoint${endpoint ? ` ${endpoint}` : ''}`
    if (status === 401 || status === 403)
      return new UserError(
        `${where} refused ${call} (HTTP ${status}) with an answer that is not an AWS error document; nothing was done`,
        `check the credentials (run \`${login}\`) and that the endpoint is AWS`,
      )
    return new ExternalError(`${where} answered ${call} with something that is not an AWS response (HTTP ${status ?? '?'})`, call)
  }
  const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET'].includes(code))
    return new ExternalError(
      `cannot reach the AWS endpoint${endpoint ? ` ${endpoint}` : ''} for ${call} (${code})`,
      call,
      undefined,
      code === 'ECONNRESET',
      reachNext,
    )
  return err
}
