#!/usr/bin/env bash
# Writes a Terraform CLI configuration that installs providers from a local filesystem mirror, when
# (and only when) this machine has one. Called by scripts/install-deps.sh; tests call it with their
# own TF_CLI_CONFIG_FILE.
#
#   target: $TF_CLI_CONFIG_FILE, else ~/.terraformrc (where terraform itself looks)
#   mirror: the first directory holding <host>/<namespace>/<type>/ provider packages, from
#     1. $AUTOLYTIQ_TF_PLUGIN_MIRROR (explicit; an error when it holds no provider)
#     2. terraform's implied local mirror directories (Linux and macOS)
#        (https://developer.hashicorp.com/terraform/cli/config/config-file#implied-local-mirror-directories)
#     3. a bounded search (depth 4) of the places machine images put one: /opt, /usr/local, /srv, /usr/share
#
# Never overwrites an existing file: a user's CLI configuration is theirs (a hint is printed when it
# has no provider_installation block and a mirror exists). No mirror found: nothing is written and
# terraform installs providers from the registry as usual.
#
# The providers found in the mirror are excluded from `direct`: terraform asks every matching
# source for versions, and on a machine without registry access that query fails the whole init.
# Every other provider still comes from the registry.
set -euo pipefail

say() { printf '[terraform-cli-config] %s\n' "$*" >&2; }
target="${TF_CLI_CONFIG_FILE:-$HOME/.terraformrc}"

# Prints "<host>/<namespace>/<type>" for every provider a mirror directory holds (packed or unpacked layout).
providers_in() {
  local root="$1"
  [ -d "$root" ] || return 0
  find "$root" -mindepth 3 -maxdepth 3 -type d 2>/dev/null | while read -r d; do
    # unpacked: <type>/<version>/<os_arch>/terraform-provider-*; packed: <type>/terraform-provider-*.zip
    if compgen -G "$d/*/*/terraform-provider-*" >/dev/null || compgen -G "$d/terraform-provider-*.zip" >/dev/null; then
      printf '%s\n' "${d#"$root"/}"
    fi
  done | sort -u
}

find_mirror() {
  if [ -n "${AUTOLYTIQ_TF_PLUGIN_MIRROR:-}" ]; then
    if [ -z "$(providers_in "$AUTOLYTIQ_TF_PLUGIN_MIRROR")" ]; then
      say "AUTOLYTIQ_TF_PLUGIN_MIRROR=$AUTOLYTIQ_TF_PLUGIN_MIRROR holds no provider (<host>/<namespace>/<type>/<version>/<os_arch>/terraform-provider-*)"
      return 1
    fi
    printf '%s\n' "$AUTOLYTIQ_TF_PLUGIN_MIRROR"
    return 0
  fi
  local candidates=(
    "$HOME/.terraform.d/plugins"
    "${XDG_DATA_HOME:-$HOME/.local/share}/terraform/plugins"
    "$HOME/Library/Application Support/io.terraform/plugins" # macOS
    "/Library/Application Support/io.terraform/plugins"      # macOS
  )
  local IFS=:
  for d in ${XDG_DATA_DIRS:-/usr/local/share:/usr/share}; do candidates+=("$d/terraform/plugins"); done
  unset IFS
  for d in "${candidates[@]}"; do
    if [ -n "$(providers_in "$d")" ]; then printf '%s\n' "$d" && return 0; fi
  done
  local hit
  hit="$(find /opt /usr/local /srv /usr/share -maxdepth 4 -type d -name registry.terraform.io 2>/dev/null | head -n1 || true)"
  if [ -n "$hit" ] && [ -n "$(providers_in "$(dirname "$hit")")" ]; then
    dirname "$hit"
    return 0
  fi
  return 0
}

mirror="$(find_mirror)"
if [ -z "$mirror" ]; then
  say "no provider mirror on this machine: terraform installs providers from the registry"
  exit 0
fi
mapfile -t providers < <(providers_in "$mirror")

if [ -e "$target" ]; then
  if ! grep -q provider_installation "$target"; then
    say "$target exists (left alone) and has no provider_installation block; to use the mirror at $mirror,"
    say "add: provider_installation { filesystem_mirror { path = \"$mirror\" } direct { exclude = [...] } }"
  else
    say "$target exists (left alone)"
  fi
  exit 0
fi

quoted="$(printf '"%s", ' "${providers[@]}")"
quoted="[${quoted%, }]"
mkdir -p "$(dirname "$target")"
tmp="$(mktemp "$target.XXXXXX")"
cat >"$tmp" <<EOF
# Written by autolytiq scripts/terraform-cli-config.sh: providers from the local mirror at $mirror,
# everything else from the registry. Edit freely; the script never overwrites this file.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = $quoted
  }
  direct {
    exclude = $quoted
  }
}
EOF
mv "$tmp" "$target"
say "wrote $target: ${providers[*]} from $mirror"
