/**
 * Secrets never appear in output, logs, state or reports. Every value the CLI learns is secret
 * (prompt answers, secret env vars, Secrets Manager values) is registered here, and every line
 * that leaves the process passes through `redact()`.
 */
const MASK = '***'
const known = new Set<string>()

/** Shapes that are secret whatever their source. */
const PATTERNS: RegExp[] = [
  /AKIA[0-9A-Z]{16}/g, // AWS access key id
  /(?<=aws_secret_access_key\s*[=:]\s*)\S+/gi,
  // key=value / "key": "value" where the key is a whole word (so "ExternalSecret: 404" stays readable)
  /(?<=\b(?:password|passwd|secret|token|api_key|apikey|auth_token)["']?\s*[=:]\s*["']?)[^\s"',}]{4,}/gi,
  /(?<=:\/\/[^:/@\s]*:)[^@/\s]+(?=@)/g, // user:PASSWORD@host in URLs
  /(?<=Bearer\s+)[A-Za-z0-9._~+/-]+=*/g,
  /\b(?:sk_live|sk_test|whsec|re)_[A-Za-z0-9]{8,}/g, // Stripe / Resend keys
  /k8s-aws-v1\.[A-Za-z0-9_-]+/g, // EKS tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
]

export function registerSecret(value: string | undefined | null): void {
  // Very short values would mask ordinary words; they are not secrets worth the name anyway.
  if (value && value.length >= 6) known.add(value)
}

export function redact(text: string): string {
  let out = text
  for (const value of known) out = out.split(value).join(MASK)
  for (const re of PATTERNS) out = out.replace(re, MASK)
  return out
}

/** Deep-redacts any JSON-able value (for state, audit and --json output). */
export function redactValue<T>(value: T): T {
  return JSON.parse(redact(JSON.stringify(value ?? null))) as T
}

/** Environment variables whose values are secrets (registered at start-up). */
export function registerSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [k, v] of Object.entries(env)) {
    // Names that say "secret" but hold plain facts (AUTOLYTIQ_SECRET_SMTP_HOST, ..._USERNAME) stay visible:
    // masking "sandbox" or a host name everywhere would hide what the engineer needs to read.
    if (/(SECRET|PASSWORD|TOKEN|API_KEY|WEBHOOK|DSN|PRIVATE)/i.test(k) && !/_(HOST|PORT|USER|USERNAME|FROM|REGION|NAME|PATH|ENDPOINT)$/i.test(k))
      registerSecret(v)
  }
}
