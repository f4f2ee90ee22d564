import type { Context } from '../../engine/types.js'
import { callerIdentity } from '../aws/account.js'

/**
 * Which environment a piece of evidence (smoke tests, the load baseline, the alert test, verify)
 * was gathered on: the release, the AWS account and the cluster. The cluster is known by the UID
 * of its kube-system namespace: a new cluster (a rebuilt sandbox, a replaced EKS cluster) has a
 * new one even when every name is the same.
 */
export interface ProvedOn {
  release: string
  account?: string
  cluster?: string
}

/** The environment as it is now; a part that cannot be read stays unknown (it is not a match). */
export async function provedOnNow(ctx: Context): Promise<ProvedOn> {
  const [account, cluster] = await Promise.all([
    callerIdentity(ctx).then(
      (i) => i.account || undefined,
      () => undefined,
    ),
    ctx.clients.kube
      .core()
      .then((core) => core.readNamespace({ name: 'kube-system' }))
      .then(
        (ns) => ns.metadata?.uid,
        () => undefined,
      ),
  ])
  return { release: ctx.env.release, account, cluster }
}

/** Why evidence recorded on `before` does not prove the environment `now`; undefined when it does. */
export function staleBecause(before: unknown, now: ProvedOn): string | undefined {
  const b = before as Partial<ProvedOn> | undefined
  if (!b?.release) return 'it does not say which environment it proved'
  if (b.release !== now.release) return `it proved release ${b.release}, this is ${now.release}`
  if (b.account !== now.account) return `it proved AWS account ${b.account ?? '(unknown)'}, this is ${now.account ?? '(unknown)'}`
  if (b.cluster !== now.cluster) return `it proved another cluster (kube-system ${b.cluster ?? 'unknown'}, now ${now.cluster ?? 'unknown'})`
  return undefined
}
