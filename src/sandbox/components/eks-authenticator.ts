/**
 * The sandbox's stand-in for EKS's authenticator (issue #16, item 4): a TokenReview webhook the
 * sandbox kube-apiserver consults (--authentication-token-webhook-config-file) for bearer tokens
 * it does not know itself. EKS's own authenticator cannot run here; this one does what it does:
 *
 *   1. takes a `k8s-aws-v1.` token (what `aws eks get-token` and autolytiq's kube client make),
 *      decodes the presigned STS GetCallerIdentity URL and checks it as aws-iam-authenticator
 *      does: the STS endpoint, Action=GetCallerIdentity, `x-k8s-aws-id` among the signed headers,
 *      X-Amz-Date no older than 15 minutes (the header's value, the cluster name, is bound only by
 *      the signature, which moto does not verify);
 *   2. calls STS (moto) with that signature to learn who signed it;
 *   3. maps the caller to a Kubernetes user only through an access entry — the cluster creator
 *      (bootstrap_cluster_creator_admin_permissions) or an entry of `eks_access_entries`, the
 *      Terraform variable the environment's autolytiq.yaml sets and Terraform turns into
 *      aws_eks_access_entry + aws_eks_access_policy_association. Anyone else: not
 *      authenticated, which the API server answers with 401.
 *
 * Why entries come from the configuration and not from moto: moto 5.2.1 implements no EKS access
 * entries (no CreateAccessEntry, ListAccessEntries, DescribeAccessEntry,
 * AssociateAccessPolicy), so the webhook reads the same `eks_access_entries` value Terraform gets.
 * Why the STS call is rewritten: moto picks the service and the caller from the Authorization
 * header, not from a presigned query, so the same signature is sent in header form (moto does
 * not verify signatures either way).
 */
import { createServer, type Server } from 'node:http'
import { principalArn } from '../../clients/eks-token.js'
import { freePort } from './ports.js'

export interface AccessEntry {
  principal_arn: string
  /** An EKS access policy name, e.g. AmazonEKSClusterAdminPolicy. */
  policy: string
}

export interface EksAuthenticator {
  url: string
  port: number
  /** Every decision, newest last (tests and the sandbox log). */
  decisions: { arn?: string; authenticated: boolean; reason: string }[]
  stop(): Promise<void>
}

const MAX_AGE_MS = 15 * 60_000

/**
 * Kubernetes groups for an EKS access policy. EKS enforces access policies in its own
 * authorizer; the sandbox's RBAC has the cluster-admin binding for system:masters, and the
 * built-in edit/view ClusterRoles are bound to these groups by nobody but the tests.
 */
export function policyGroups(policy: string): string[] {
  if (policy === 'AmazonEKSClusterAdminPolicy') return ['system:masters']
  return [`eks-access-policy:${policy}`]
}

/** The eks_access_entries Terraform variable as autolytiq.yaml sets it (map of name -> entry). */
export function accessEntriesFrom(terraformVars: Record<string, unknown>): AccessEntry[] {
  const raw = terraformVars.eks_access_entries
  if (!raw || typeof raw !== 'object') return []
  return Object.values(raw as Record<string, Partial<AccessEntry>>).flatMap((e) =>
    typeof e?.principal_arn === 'string' && typeof e.policy === 'string' ? [{ principal_arn: e.principal_arn, policy: e.policy }] : [],
  )
}

type Verdict = { ok: true; arn: string; entry: AccessEntry } | { ok: false; arn?: string; reason: string }

async function callerArn(presigned: URL, stsEndpoint: URL): Promise<string> {
  const q = presigned.searchParams
  const authorization = `AWS4-HMAC-SHA256 Credential=${q.get('X-Amz-Credential')}, SignedHeaders=${q.get('X-Amz-SignedHeaders')}, Signature=${q.get('X-Amz-Signature')}`
  const headers: Record<string, string> = {
    authorization,
    'x-amz-date': q.get('X-Amz-Date') ?? '',
    'content-type': 'application/x-www-form-urlencoded',
  }
  const session = q.get('X-Amz-Security-Token')
  if (session) headers['x-amz-security-token'] = session
  const res = await fetch(new URL('/', stsEndpoint), {
    method: 'POST',
    headers,
    body: 'Action=GetCallerIdentity&Version=2011-06-15',
    signal: AbortSignal.timeout(5000),
  })
  const text = await res.text()
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1]
  if (!res.ok || !arn) throw new Error(`STS refused the token's signature (HTTP ${res.status})`)
  return arn
}

export async function review(
  token: string,
  o: { cluster: string; stsEndpoint: URL; entries: AccessEntry[]; creatorArn?: string; now?: number },
): Promise<Verdict> {
  if (!token.startsWith('k8s-aws-v1.')) return { ok: false, reason: 'not an EKS token' }
  let url: URL
  try {
    url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'))
  } catch {
    return { ok: false, reason: 'the token does not hold a URL' }
  }
  const q = url.searchParams
  if (url.host !== o.stsEndpoint.host) return { ok: false, reason: `the token is signed for ${url.host}, not this cluster's STS endpoint` }
  if (q.get('Action') !== 'GetCallerIdentity') return { ok: false, reason: 'the token is not a GetCallerIdentity request' }
  if (!(q.get('X-Amz-SignedHeaders') ?? '').split(';').includes('x-k8s-aws-id')) return { ok: false, reason: 'x-k8s-aws-id is not signed' }
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '')
  const signedAt = date ? Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!) : NaN
  if (!(Math.abs((o.now ?? Date.now()) - signedAt) <= MAX_AGE_MS)) return { ok: false, reason: 'the token has expired (15 minutes)' }
  let caller: string
  try {
    caller = await callerArn(url, o.stsEndpoint)
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  const arn = principalArn(caller)
  if (o.creatorArn && arn === principalArn(o.creatorArn)) return { ok: true, arn, entry: { principal_arn: arn, policy: 'AmazonEKSClusterAdminPolicy' } }
  const entry = o.entries.find((e) => e.principal_arn === arn)
  return entry ? { ok: true, arn, entry } : { ok: false, arn, reason: `no access entry for ${arn} in cluster ${o.cluster}` }
}

/**
 * Starts the webhook on a free loopback port. `stsEndpoint` may be set later (the sandbox starts
 * moto and the API server in parallel); `entries` is read on every review, so a changed
 * configuration applies without a restart.
 */
export async function startEksAuthenticator(o: {
  cluster: string
  stsEndpoint?: string
  entries: () => AccessEntry[]
  creatorArn?: string
  log?: (m: string) => void
}): Promise<EksAuthenticator & { setStsEndpoint(url: string, creatorArn?: string): void }> {
  let sts = o.stsEndpoint ? new URL(o.stsEndpoint) : undefined
  let creatorArn = o.creatorArn
  const decisions: EksAuthenticator['decisions'] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      void (async () => {
        let token = ''
        try {
          token = (JSON.parse(body) as { spec?: { token?: string } }).spec?.token ?? ''
        } catch {
          // an empty review is simply not authenticated
        }
        const v: Verdict = sts
          ? await review(token, { cluster: o.cluster, stsEndpoint: sts, entries: o.entries(), creatorArn })
          : { ok: false, reason: 'STS is not up yet' }
        decisions.push({ arn: v.arn, authenticated: v.ok, reason: v.ok ? `access entry ${v.entry.policy}` : v.reason })
        if (!v.ok) o.log?.(`eks authenticator: refused ${v.arn ?? 'a token'}: ${v.reason}`)
        const status = v.ok
          ? {
              authenticated: true,
              user: { username: v.arn, uid: `aws-iam-authenticator:${v.arn}`, groups: [...policyGroups(v.entry.policy), 'system:authenticated'] },
            }
          : { authenticated: false, error: v.reason }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status }))
      })()
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    decisions,
    setStsEndpoint(url, creator) {
      sts = new URL(url)
      if (creator) creatorArn = creator
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
