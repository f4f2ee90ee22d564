import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto'
import type { AwsClients } from './aws.js'

/**
 * The bearer token EKS accepts, made in-process exactly as `aws eks get-token` (and
 * aws-iam-authenticator) make it, so neither the aws CLI nor any other binary is needed:
 * an STS GetCallerIdentity URL presigned with SigV4 for 60 s, with the header
 * `x-k8s-aws-id: <cluster>` among the signed headers, base64url-encoded without padding and
 * prefixed `k8s-aws-v1.`. The API server's authenticator calls that URL: STS answers with the
 * caller's ARN, which EKS maps to a Kubernetes identity through the cluster's access entries.
 * EKS accepts the token for 15 minutes; like the CLI we say it expires after 14.
 */
export interface EksToken {
  token: string
  expiresAt: Date
}

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.'
const TOKEN_LIFETIME_MS = 14 * 60_000

/** SHA-256 / HMAC-SHA-256 for SigV4, from node:crypto (the SDK's own hash package is not a dependency). */
type Data = string | ArrayBuffer | ArrayBufferView
const bytes = (d: Data): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength)

export class NodeSha256 {
  private h: Hash | Hmac
  private readonly secret?: string | Uint8Array
  constructor(secret?: Data) {
    this.secret = secret === undefined ? undefined : bytes(secret)
    this.h = this.fresh()
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret)
  }
  update(data: Data): void {
    this.h.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()))
  }
  reset(): void {
    this.h = this.fresh()
  }
}

/** The STS endpoint the token is presigned for: the regional one, or the sandbox's local endpoint. */
export function stsUrl(region: string, endpoint?: string): URL {
  return new URL(endpoint ?? `https://sts.${region}.amazonaws.com/`)
}

export async function presignedCallerIdentityUrl(o: {
  cluster: string
  region: string
  endpoint?: string
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  now?: Date
}): Promise<string> {
  const { SignatureV4 } = await import('@smithy/signature-v4')
  const url = stsUrl(o.region, o.endpoint)
  const signer = new SignatureV4({ service: 'sts', region: o.region, credentials: o.credentials, sha256: NodeSha256, uriEscapePath: true })
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: url.host, 'x-k8s-aws-id': o.cluster },
    },
    { expiresIn: 60, signingDate: o.now },
  )
  const query = new URLSearchParams()
  for (const [k, v] of Object.entries(signed.query ?? {})) for (const one of [v].flat()) if (one !== null && one !== undefined) query.append(k, one)
  return `${url.protocol}//${url.host}/?${query.toString()}`
}

export function tokenFromUrl(presigned: string): string {
  return EKS_TOKEN_PREFIX + Buffer.from(presigned, 'utf8').toString('base64url')
}

/** The presigned URL inside a token, or undefined when it is not an EKS token. */
export function urlFromToken(token: string): string | undefined {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) return undefined
  return Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8')
}

/** A fresh EKS token for `cluster`, signed with the credentials autolytiq's AWS clients use (profile, SSO, env). */
export async function eksToken(aws: AwsClients, cluster: string): Promise<EksToken> {
  const sts = await aws.sts()
  const credentials = await sts.config.credentials()
  const now = new Date()
  const url = await presignedCallerIdentityUrl({ cluster, region: aws.settings.region, endpoint: aws.settings.endpoint, credentials, now })
  return { token: tokenFromUrl(url), expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS) }
}

/** What a kubeconfig exec plugin prints (client.authentication.k8s.io/v1beta1 ExecCredential). */
export function execCredential(t: EksToken): Record<string, unknown> {
  return {
    kind: 'ExecCredential',
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    spec: {},
    status: { expirationTimestamp: t.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), token: t.token },
  }
}

/** The IAM principal EKS maps a caller to: an assumed role's session stands for the role (access entries name roles). */
export function principalArn(callerArn: string): string {
  const m = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn)
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn
}
