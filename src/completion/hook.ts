import type { Hook } from '@oclif/core'

/** The commands of @oclif/plugin-autocomplete that (re)generate the completion functions. */
const GENERATORS = new Set(['autocomplete', 'autocomplete:create'])

/**
 * oclif `postrun` hook: after plugin-autocomplete writes its bash/zsh functions, layer value
 * completion on top. Runs after every command, so it returns at once for all the others.
 */
const hook: Hook.Postrun = async function (opts) {
  if (!GENERATORS.has(opts.Command.id)) return
  const { addValueCompletion } = await import('./install.js')
  for (const [shell, added] of Object.entries(addValueCompletion(opts.config)))
    if (!added)
      this.warn(`${shell}: value completion (environments, services, steps, phases) not added: oclif's completion file is missing or has an unexpected shape`)
}

export default hook
