import type { ConfigurationOptions, RequestContext, ResponseContext } from '@kubernetes/client-node'

/** HTTP status of a Kubernetes API error (404, 409...), if it is one. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'number' ? code : undefined
}

/** The API server's own message ("namespaces \"x\" not found") rather than the client's wrapper. */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string }
  if (typeof e?.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { message?: string }
      if (status.message) return status.message
    } catch {
      // not JSON: fall through
    }
  }
  if (e?.body && typeof e.body === 'object' && 'message' in e.body) return String((e.body as { message: unknown }).message)
  return e?.message?.split('\n')[0] ?? String(err)
}

export function isNotFound(err: unknown): boolean {
  return apiStatus(err) === 404
}

/**
 * Per-call options that abort the HTTP request with `signal` (a deadline, or Ctrl-C): the
 * generated client has no signal parameter, but a middleware can set one on the request.
 */
export function withSignal(signal: AbortSignal): ConfigurationOptions {
  // The generated client chains middleware results with `.toPromise()` (its internal Observable
  // stub is not exported); a resolved value with that one method is all it needs.
  const pass = <T>(value: T) => ({ toPromise: () => Promise.resolve(value) }) as never
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal)
          return pass(ctx)
        },
        post: (ctx: ResponseContext) => pass(ctx),
      },
    ],
    middlewareMergeStrategy: 'append',
  }
}

/**
 * The one field manager of every write autolytiq makes (server-side apply, rollbacks, scaling,
 * refreshes): `kubectl get -o yaml --show-managed-fields` shows what autolytiq owns, and a deploy
 * after a rollback sees its own fields, not a stranger's (the client library's default manager
 * is its HTTP user agent, "node-fetch").
 */
export const FIELD_MANAGER = 'autolytiq'
