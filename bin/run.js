#!/usr/bin/env node
// Entry point. Kept tiny: cold start matters to an engineer typing `autolytiq status` at 3 a.m.
import { execute } from '@oclif/core/execute'

// The SDK's "future versions will need Node 22" notice is for library authors; the versions this
// tool runs are pinned in package-lock.json, so it would only add noise to every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({ dir: import.meta.url })
// A command is finished when execute() returns: a stray socket or watch must not keep the
// engineer's terminal waiting. Output to pipes and files is synchronous on Linux, so nothing is lost.
process.exit(process.exitCode ?? 0)
