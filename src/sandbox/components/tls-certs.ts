import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { execa } from 'execa'

/**
 * A local CA and leaf certificates made by the real openssl binary. OpenSSL 3.0 (Debian 12) has
 * no `x509 -not_before/-not_after` (added in 3.4) and there is no faketime here, so leaves are
 * signed with `openssl ca -startdate/-enddate`, which takes explicit validity dates.
 */

export type CertVariant = 'valid' | 'expired' | 'wrong-host' | 'expiring-soon'
export const CERT_VARIANTS: readonly CertVariant[] = ['valid', 'expired', 'wrong-host', 'expiring-soon']

export const DEFAULT_TLS_HOSTNAME = 'api.sandbox.autolytiq.local'
/** SAN used by the wrong-host variant: never the hostname a test connects with. */
export const WRONG_HOSTNAME = 'wrong-host.invalid'

export interface IssuedCert {
  certPath: string
  keyPath: string
  /** PEM */
  cert: string
  /** PEM */
  key: string
  notBefore: Date
  notAfter: Date
}

export interface TestPki {
  dir: string
  caCertPath: string
  /** PEM of the CA certificate: pass as `ca` to trust the leaves. */
  caCert: string
  hostname: string
  /** Leaf for `hostname`, localhost and 127.0.0.1 (wrong-host: only WRONG_HOSTNAME). */
  leaf(variant: CertVariant): IssuedCert
  /** Issue a leaf with any names and dates. */
  issue(opts: IssueOptions): Promise<IssuedCert>
}

export interface IssueOptions {
  name: string
  /** DNS names and IP addresses; the first one is also the CN. */
  sans: string[]
  notBefore: Date
  notAfter: Date
}

const DAY = 24 * 60 * 60 * 1000

/** openssl ca wants UTCTime: YYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
}

function sanList(names: string[]): string {
  return names.map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',')
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await execa('openssl', args, { cwd, reject: false, timeout: 30_000 })
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr || r.stdout}`)
}

/** Creates the CA and the four standard leaves in `dir`. */
export async function createTestPki(dir: string, opts: { hostname?: string } = {}): Promise<TestPki> {
  const hostname = opts.hostname ?? DEFAULT_TLS_HOSTNAME
  mkdirSync(join(dir, 'newcerts'), { recursive: true })
  writeFileSync(join(dir, 'index.txt'), '')
  writeFileSync(join(dir, 'serial'), randomBytes(8).toString('hex').toUpperCase() + '\n')
  const cnf = join(dir, 'openssl.cnf')
  writeFileSync(
    cnf,
    `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = autolytiq test CA
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`,
  )
  // EC P-256 keys: generated in milliseconds, unlike RSA.
  await openssl(
    [
      'req',
      '-config',
      cnf,
      '-x509',
      '-extensions',
      'v3_ca',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
    ],
    dir,
  )

  const issue = async (o: IssueOptions): Promise<IssuedCert> => {
    const ext = join(dir, `${o.name}.ext`)
    writeFileSync(
      ext,
      `[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${sanList(o.sans)}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`,
    )
    const keyPath = join(dir, `${o.name}.key`)
    const csr = join(dir, `${o.name}.csr`)
    const certPath = join(dir, `${o.name}.crt`)
    await openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${o.sans[0]}`],
      dir,
    )
    await openssl(
      [
        'ca',
        '-config',
        cnf,
        '-batch',
        '-notext',
        '-in',
        csr,
        '-out',
        certPath,
        '-startdate',
        asn1Time(o.notBefore),
        '-enddate',
        asn1Time(o.notAfter),
        '-extfile',
        ext,
        '-extensions',
        'leaf',
      ],
      dir,
    )
    return {
      certPath,
      keyPath,
      cert: readFileSync(certPath, 'utf8'),
      key: readFileSync(keyPath, 'utf8'),
      notBefore: o.notBefore,
      notAfter: o.notAfter,
    }
  }

  const now = Date.now()
  const names = [hostname, 'localhost', '127.0.0.1']
  const leaves: Record<CertVariant, IssuedCert> = {
    valid: await issue({ name: 'valid', sans: names, notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) }),
    expired: await issue({ name: 'expired', sans: names, notBefore: new Date(now - 60 * DAY), notAfter: new Date(now - DAY) }),
    'wrong-host': await issue({ name: 'wrong-host', sans: [WRONG_HOSTNAME], notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) }),
    // Just under 5 days left, so "expires within 5 days" holds for the whole test run.
    'expiring-soon': await issue({ name: 'expiring-soon', sans: names, notBefore: new Date(now - DAY), notAfter: new Date(now + 5 * DAY - 60 * 60 * 1000) }),
  }
  const caCertPath = join(dir, 'ca.crt')
  return {
    dir,
    caCertPath,
    caCert: readFileSync(caCertPath, 'utf8'),
    hostname,
    leaf: (variant) => leaves[variant],
    issue,
  }
}
