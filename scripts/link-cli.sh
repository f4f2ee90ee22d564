#!/usr/bin/env bash
# Makes `autolytiq` a command in every new shell, the npm way: `npm link` puts a symlink to this
# checkout's bin/run.js in npm's global bin folder (root: `npm prefix -g`, e.g. /usr/bin).
# Without write access there (a non-root user with the system's npm), it links into ~/.local
# instead, whose bin/ Debian's ~/.profile puts on PATH. Idempotent: nothing happens when
# `autolytiq` already resolves to this checkout. Undo with `npm unlink -g autolytiq`.
set -euo pipefail
cd "$(dirname "$0")/.."
here="$(pwd -P)/bin/run.js"
say() { printf '[link-cli] %s\n' "$*" >&2; }

global="$(npm prefix -g)"
current="$(command -v autolytiq 2>/dev/null || true)"
if [ -n "$current" ] && [ "$(readlink -f "$current")" = "$here" ]; then
  say "autolytiq -> $here (already linked)"
  exit 0
fi

writable() { # a folder we can write, or one we could create
  local d="$1"
  while [ ! -e "$d" ]; do d="$(dirname "$d")"; done
  [ -w "$d" ]
}

prefix="$global"
if ! writable "$global/bin" || ! writable "$global/lib/node_modules"; then prefix="$HOME/.local"; fi
# npm reads both spellings; `npm run` exports the lower-case one, so set both.
npm_config_prefix="$prefix" NPM_CONFIG_PREFIX="$prefix" npm link --no-audit --no-fund --silent
bin="$prefix/bin/autolytiq"
[ "$(readlink -f "$bin")" = "$here" ] || { say "npm link did not create $bin"; exit 1; }
say "autolytiq -> $here (linked at $bin)"

# A new shell finds it when its folder is on PATH; say so when this one would not.
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) say "add $prefix/bin to PATH (e.g. in ~/.profile) to run \`autolytiq\` from any shell" ;;
esac
