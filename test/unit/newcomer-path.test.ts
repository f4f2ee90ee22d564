import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { stringify } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO, runCli } from '../helpers/cli.js'
import { tempProject } from '../helpers/project.js'

/**
 * What a newcomer does right after `npm run sandbox`, in a new plain shell: type `autolytiq …`
 * with nothing exported by hand. The setup links the bin the npm way (scripts/link-cli.sh), and
 * the CLI finds the helm scripts/install-deps.sh put in its cache by itself.
 */
const scratch = mkdtempSync(join(tmpdir(), 'autolytiq-newcomer-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A plain shell's PATH: node and the system tools, none of the session's additions. */
const PLAIN_PATH = [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':')

describe('the autolytiq command', () => {
  it('scripts/link-cli.sh links bin/run.js as `autolytiq` (npm link), idempotently, and a new shell runs it', () => {
    const prefix = join(scratch, 'npm-prefix')
    // Never the machine's global prefix: npm (and `npm run`, which exports npm_config_prefix)
    // reads both spellings, so both point at a scratch folder.
    const env = { ...process.env, npm_config_prefix: prefix, NPM_CONFIG_PREFIX: prefix, HOME: join(scratch, 'home'), PATH: `${prefix}/bin:${PLAIN_PATH}` }
    mkdirSync(env.HOME, { recursive: true })
    const first = spawnSync('bash', [join(REPO, 'scripts', 'link-cli.sh')], { env, encoding: 'utf8' })
    expect(first.status, first.stderr).toBe(0)
    expect(first.stderr).toContain(`linked at ${prefix}/bin/autolytiq`)
    expect(readlinkSync(join(prefix, 'bin', 'autolytiq'))).toMatch(/autolytiq\/bin\/run\.js$/)
    const again = spawnSync('bash', [join(REPO, 'scripts', 'link-cli.sh')], { env, encoding: 'utf8' })
    expect(again.status, again.stderr).toBe(0)
    expect(again.stderr).toContain('(already linked)')

    // A new login-less shell with only that PATH, from another folder: the command answers.
    const out = execFileSync('bash', ['-c', 'cd / && autolytiq --version'], { env: { PATH: env.PATH, HOME: env.HOME }, encoding: 'utf8' })
    expect(out).toMatch(/^autolytiq\/0\.\d+\.\d+/)
  })
})

describe('tools the setup installed itself', () => {
  it('helm in the autolytiq cache is found with a plain PATH (no export)', async () => {
    const realHelm = [join(process.env.AUTOLYTIQ_CACHE ?? join(homedir(), '.cache', 'autolytiq'), 'bin', 'helm')].find(existsSync)
    if (!realHelm) return expect.fail('helm is not in ~/.cache/autolytiq/bin: run `bash scripts/install-deps.sh` first')
    const cache = join(scratch, 'cache')
    mkdirSync(join(cache, 'bin'), { recursive: true })
    symlinkSync(realHelm, join(cache, 'bin', 'helm'))
    const p = tempProject()
    try {
      const runbook = { name: 'go-live', title: 't', description: 'd', phases: [{ id: 'a', number: 1, title: 'A', steps: [{ uses: 'preflight.tools' }] }] }
      writeFileSync(join(p.root, 'runbooks', 'go-live.yaml'), stringify(runbook))
      const env = { ...p.env, PATH: PLAIN_PATH }
      const deploy = (cacheDir: string) => runCli(['deploy', '--env', 'local', '--yes', '--json'], { ...env, AUTOLYTIQ_CACHE: cacheDir })
      const r = await deploy(cache)
      expect(r.code, r.stdout).toBe(0)
      expect(JSON.parse(r.stdout).steps).toEqual([
        expect.objectContaining({ id: 'preflight.tools', outcome: 'unchanged', detail: expect.stringContaining('helm 4.') }),
      ])

      // Control: without the cache there is no helm on this PATH (else the test proves nothing).
      const without = await deploy(join(scratch, 'empty-cache'))
      expect(without.code, without.stdout).toBe(2)
      expect(JSON.parse(without.stdout).error.message).toContain('helm (helm not found on PATH)')
      // That failed run changed nothing, and status says so instead of just "failed".
      const status = await runCli(['status', '--env', 'local'], env)
      expect(status.stdout).toMatch(/Last run: deploy by .* — failed at preflight\.tools; it changed nothing\n/)
    } finally {
      p.cleanup()
    }
  })
})

describe('typos', () => {
  it('a mistyped command: one message, the command it meant with the rest of the line, exit 2', async () => {
    const r = await runCli(['deplyo', '--env', 'sandbox'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      'Error: "deplyo" is not an autolytiq command\n  Next: did you mean `autolytiq deploy --env sandbox`? (`autolytiq --help` lists the commands)\n',
    )
    const topic = await runCli(['sandbox', 'upp'])
    expect(topic.stderr).toContain('did you mean `autolytiq sandbox up`?')
    const far = await runCli(['foo'])
    expect(far.stderr).toBe('Error: "foo" is not an autolytiq command\n  Next: `autolytiq --help` lists the commands\n')
  })

  it('a mistyped flag: did you mean, and one help hint, not two', async () => {
    const r = await runCli(['deploy', '--evn', 'sandbox'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Error: Nonexistent flag: --evn\n  Next: did you mean --env? (`autolytiq deploy --help` lists the flags)\n')
    expect(r.stderr).not.toContain('See more help')
  })
})
