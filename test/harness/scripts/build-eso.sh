#!/usr/bin/env bash
# Builds the real External Secrets Operator (github.com/external-secrets/external-secrets) from the
# Go module proxy and caches it outside the repo, next to the control plane. The sandbox and the
# tests run this binary out of cluster against their API server, with Secrets Manager and STS on
# moto; its CRDs and Helm chart are read from the same module (see src/sandbox/eso.ts).
#   Why v0.19.2: the proxy refuses v0.19.1, and from v1 on the providers are nested modules the
#   proxy does not serve; v0.19.2 builds with every provider compiled in.
#   Why a wrapper module: the operator's go.mod has a `replace` (sprig), which only applies in the
#   main module, so a wrapper requires the operator and repeats every replace of its go.mod.
# Cache: ${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}/eso-<version>/
#   bin/external-secrets    the operator (cold build ~7 min on 2 cores, ~256 MB)
#   module                  symlink to the module source (deploy/crds/bundle.yaml, deploy/charts)
#   chart/external-secrets  the module's Helm chart as the chart repository publishes it for this
#                           version: version/appVersion stamped (the module's Chart.yaml still says
#                           the previous release), the CRD bundle in crds/, and without its optional
#                           bitwarden-sdk-server dependency (disabled by default; an OCI chart that
#                           cannot be fetched here, and helm refuses a chart whose dependency is absent)
set -euo pipefail

ESO_VERSION="${ESO_VERSION:-v0.19.2}"
ESO_MODULE=github.com/external-secrets/external-secrets
CACHE="${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}"
OUT="$CACHE/eso-$ESO_VERSION"
BIN="$OUT/bin/external-secrets"
step() { printf '[build-eso %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

CHART="$OUT/chart/external-secrets"
ready() { [ -x "$BIN" ] && [ -f "$OUT/module/deploy/crds/bundle.yaml" ] && [ -f "$CHART/Chart.yaml" ]; }
if ready; then echo "external-secrets $ESO_VERSION cached in $OUT"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "build-eso: go is not installed (needed once to build the operator)" >&2; exit 1; }

mkdir -p "$OUT/bin"
# One build at a time per cache (install-deps.sh and run-all.sh may both ask for it): a second
# caller waits here and then finds the binary built.
exec 9>"$CACHE/eso-build-$ESO_VERSION.lock"
if ! flock -n 9; then
  step "another build is running; waiting for it"
  flock 9
fi
if ready; then echo "external-secrets $ESO_VERSION cached in $OUT"; exit 0; fi
started=$(date +%s)
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

work="$CACHE/eso-build-$ESO_VERSION"
mkdir -p "$work" && cd "$work"
step "downloading $ESO_MODULE@$ESO_VERSION"
go mod download -json "$ESO_MODULE@$ESO_VERSION" > dl.json
read -r gomod dir < <(python3 -c 'import json;d=json.load(open("dl.json"));print(d["GoMod"], d["Dir"])')

if [ ! -f go.mod ] || ! grep -q "$ESO_MODULE $ESO_VERSION" go.mod; then
  rm -f go.mod go.sum
  go mod init autolytiq.local/eso >/dev/null 2>&1
  # `replace A => B v` lines, single or inside a `replace ( … )` block, repeated verbatim
  awk '/^replace \(/{blk=1;next} blk&&/^\)/{blk=0;next} blk{print "replace " $0;next} /^replace /{print}' "$gomod" >> go.mod
  printf 'require %s %s\n' "$ESO_MODULE" "$ESO_VERSION" >> go.mod
  # the operator's own go.sum pins every dependency it was released with
  cp "$dir/go.sum" go.sum && chmod u+w go.sum
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/external-secrets/external-secrets"
GO
  step "resolving modules (cold: a few minutes)"
  go mod tidy -e >&2 || true
fi

if [ ! -x "$BIN" ]; then
  step "building the operator (cold: ~7 min on 2 cores)"
  # (no -tags tools: the operator's own tools.go would then join its main package)
  go build -trimpath -ldflags='-s -w' -o "$BIN.tmp" "$ESO_MODULE"
  mv "$BIN.tmp" "$BIN"
fi
ln -sfn "$dir" "$OUT/module"

step "preparing the Helm chart ${ESO_VERSION#v}"
rm -rf "$CHART.tmp" && mkdir -p "$(dirname "$CHART")"
cp -r "$dir/deploy/charts/external-secrets" "$CHART.tmp" && chmod -R u+w "$CHART.tmp"
rm -f "$CHART.tmp/Chart.lock"
awk -v v="${ESO_VERSION#v}" '
  /^dependencies:/ { skip = 1; next }
  skip && /^[^ -]/ { skip = 0 }
  skip { next }
  /^version:/ { print "version: \"" v "\""; next }
  /^appVersion:/ { print "appVersion: \"v" v "\""; next }
  { print }' "$dir/deploy/charts/external-secrets/Chart.yaml" > "$CHART.tmp/Chart.yaml"
mkdir -p "$CHART.tmp/crds" && cp "$dir/deploy/crds/bundle.yaml" "$CHART.tmp/crds/bundle.yaml"
rm -rf "$CHART" && mv "$CHART.tmp" "$CHART"
step "done in $(( $(date +%s) - started ))s: $BIN ($(du -h "$BIN" | cut -f1))"
