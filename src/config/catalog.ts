import { join } from 'node:path'
import { z } from 'zod'
import { UserError } from '../engine/errors.js'
import { loadYamlFile } from './files.js'

const smokeCheck = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/),
    service: z.string(),
    title: z.string(),
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE']).default('GET'),
    path: z.string().startsWith('/'),
    body: z.record(z.unknown()).optional(),
    expectStatus: z.number().int().default(200),
    /** JSON paths (dot notation) that must exist / equal values in the response body. */
    expect: z.record(z.unknown()).optional(),
    /** Save a response field for later flows, e.g. { token: 'token' }. */
    save: z.record(z.string()).optional(),
    /** Request to remove what this flow created; ${saved} values are substituted. */
    cleanup: z
      .object({ method: z.enum(['DELETE', 'POST']), path: z.string().startsWith('/') })
      .strict()
      .optional(),
    auth: z.boolean().default(false),
  })
  .strict()

export const serviceSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/),
    description: z.string(),
    kind: z.enum(['Deployment', 'CronJob']),
    port: z.number().int().min(1).max(65535).optional(),
    healthPath: z.string().startsWith('/').optional(),
    ecrRepository: z.string(),
    dependsOn: z.array(z.enum(['postgresql', 'redis', 'resend'])).default([]),
    replicas: z
      .object({ min: z.number().int().min(0), max: z.number().int().min(1) })
      .strict()
      .optional(),
    schedule: z.string().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.kind === 'Deployment' && (s.port === undefined || s.healthPath === undefined || !s.replicas))
      ctx.addIssue({ code: 'custom', message: `${s.name}: a Deployment needs port, healthPath and replicas` })
    if (s.kind === 'CronJob' && !s.schedule) ctx.addIssue({ code: 'custom', message: `${s.name}: a CronJob needs a schedule` })
    if (s.replicas && s.replicas.min > s.replicas.max) ctx.addIssue({ code: 'custom', message: `${s.name}: replicas.min > replicas.max` })
  })

export type Service = z.output<typeof serviceSchema>
export type SmokeCheck = z.output<typeof smokeCheck>

const catalogSchema = z
  .object({
    version: z.literal(1),
    registryPrefix: z.string().default('autolytiq'),
    services: z.array(serviceSchema).min(1),
    smoke: z.array(smokeCheck).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    const ports = new Map<number, string>()
    for (const s of c.services) {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', message: `duplicate service ${s.name}` })
      seen.add(s.name)
      if (s.port !== undefined) {
        const other = ports.get(s.port)
        if (other) ctx.addIssue({ code: 'custom', message: `port ${s.port} used by both ${other} and ${s.name}` })
        ports.set(s.port, s.name)
      }
    }
    for (const f of c.smoke) if (!seen.has(f.service)) ctx.addIssue({ code: 'custom', path: ['smoke', f.id], message: `unknown service ${f.service}` })
  })

export class Catalog {
  constructor(
    readonly services: Service[],
    readonly registryPrefix: string,
    readonly smoke: SmokeCheck[] = [],
  ) {}

  get names(): string[] {
    return this.services.map((s) => s.name)
  }

  /** Long-running services (Deployments): what rollouts, health checks and rollbacks act on. */
  get deployments(): Service[] {
    return this.services.filter((s) => s.kind === 'Deployment')
  }

  get(name: string): Service {
    const s = this.services.find((x) => x.name === name)
    if (!s) throw new UserError(`unknown service "${name}"`, `valid services: ${this.names.join(', ')}`)
    return s
  }

  /** Validates a list of names (from a flag) and returns the services in catalog order. */
  select(names: string[]): Service[] {
    for (const n of names) this.get(n)
    return this.services.filter((s) => names.includes(s.name))
  }

  image(service: string, registry: string, tag: string): string {
    return `${registry}/${this.get(service).ecrRepository}:${tag}`
  }
}

export function loadCatalog(root: string): Catalog {
  const data = loadYamlFile(join(root, 'services', 'catalog.yaml'), catalogSchema, 'service catalog')
  return new Catalog(data.services, data.registryPrefix, data.smoke)
}
