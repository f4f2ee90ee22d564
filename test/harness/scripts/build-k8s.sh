#!/usr/bin/env bash
# Builds the real Kubernetes control plane used by the test harness from Go modules and caches
# it outside the repo (there is no Docker engine here, so no kind). Only rebuilds what is missing.
#   etcd 3.6, kube-apiserver, kube-controller-manager, kubectl
# Cache: ${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}/k8s-<version>/bin
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}"
OUT="$CACHE/k8s-$K8S_VERSION/bin"
BINS=(etcd kube-apiserver kube-controller-manager kubectl)

missing=()
for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "k8s control plane $K8S_VERSION cached in $OUT"; exit 0; fi

mkdir -p "$OUT"
work="$CACHE/k8s-build-$K8S_VERSION"
mkdir -p "$work"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
step() { printf '[build-k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v go >/dev/null 2>&1 || { echo "build-k8s: go is not installed (needed once to build the control plane)" >&2; exit 1; }

# One build at a time per cache (install-deps.sh and the test setup may both ask for it):
# a second caller waits here and then finds the binaries built.
exec 9>"$CACHE/k8s-build-$K8S_VERSION.lock"
if ! flock -n 9; then
  step "another build is running; waiting for it"
  flock 9
fi
missing=()
for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "k8s control plane $K8S_VERSION cached in $OUT"; exit 0; fi
started=$(date +%s)

# Quiet by default: the go tool's hundreds of "go: downloading" lines and compiler output go to a
# log file; the terminal gets one progress line with the elapsed time (a line every 30 s when not
# a terminal), and on failure the log's tail and its path. AUTOLYTIQ_VERBOSE=1 shows everything.
LOG="$CACHE/k8s-build-$K8S_VERSION.log"
: >"$LOG"
quiet() { # quiet "what" command args...
  local what="$1"; shift
  if [ "${AUTOLYTIQ_VERBOSE:-0}" = "1" ]; then "$@" >&2; return; fi
  local t0=$SECONDS rc=0 pid
  "$@" >>"$LOG" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    local s=$((SECONDS - t0))
    if [ -t 2 ]; then printf '\r[build-k8s] %s: %d min %02d s' "$what" $((s / 60)) $((s % 60)) >&2
    elif [ $((s % 30)) -eq 0 ]; then printf '[build-k8s] %s: %d s so far\n' "$what" "$s" >&2; fi
  done
  wait "$pid" || rc=$?
  if [ -t 2 ]; then printf '\r\033[K' >&2; fi
  if [ $rc -ne 0 ]; then
    step "$what FAILED after $((SECONDS - t0)) s (exit $rc); last lines of $LOG:"
    tail -n 25 "$LOG" >&2
    return $rc
  fi
  step "$what: done in $((SECONDS - t0)) s"
}

if [ ! -x "$OUT/etcd" ]; then
  step "building etcd $ETCD_VERSION (cold: a few minutes)"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  [ -f go.mod ] || go mod init autolytiq.local/etcd >/dev/null 2>&1
  quiet "downloading etcd modules" go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  quiet "compiling etcd" go build -trimpath -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$OUT/etcd.tmp" "$OUT/etcd"
fi

need_k8s=0
for b in kube-apiserver kube-controller-manager kubectl; do [ -x "$OUT/$b" ] || need_k8s=1; done
if [ $need_k8s -eq 1 ]; then
  step "preparing k8s.io/kubernetes $K8S_VERSION module (replaces for staging modules)"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  minor="${K8S_VERSION#v1.}"; staging="v0.${minor}"
  if [ ! -f go.mod ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod; then
    rm -f go.mod go.sum
    go mod init autolytiq.local/k8s >/dev/null 2>&1
    go mod download -json "k8s.io/kubernetes@$K8S_VERSION" > dl.json
    gomod=$(python3 -c 'import json,sys;print(json.load(open("dl.json"))["GoMod"])')
    # every "k8s.io/X => ./staging/..." line becomes "replace k8s.io/X => k8s.io/X v0.MINOR"
    grep -E '^\s*k8s.io/[^ ]+ => ./staging/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}' >> go.mod
    echo "require k8s.io/kubernetes $K8S_VERSION" >> go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    step "resolving modules (cold: several minutes)"
    quiet "go mod tidy" go mod tidy -e || true
    quiet "downloading k8s.io/kubernetes modules" go get "k8s.io/kubernetes@$K8S_VERSION"
  fi
  major=1; kminor="${minor%%.*}"
  ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean"
  done
  for b in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$OUT/$b" ] && continue
    step "building $b (cold: 5-15 minutes each on 2 cores)"
    quiet "compiling $b" go build -tags tools -trimpath -ldflags "$ld" -o "$OUT/$b.tmp" "k8s.io/kubernetes/cmd/$b" && mv "$OUT/$b.tmp" "$OUT/$b"
  done
fi
step "done in $(( $(date +%s) - started ))s: $OUT"
ls -la "$OUT" >>"$LOG"
