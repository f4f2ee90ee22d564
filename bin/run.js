#!/usr/bin/env node
// Entry point. Kept tiny: cold start matters to an engineer typing `autolytiq status` at 3 a.m.
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
