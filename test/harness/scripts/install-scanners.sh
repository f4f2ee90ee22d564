#!/usr/bin/env bash
# Installs the two independent security scanners the suite holds the manifests to
# (test/integration/security-scanners.test.ts), cached outside the repo:
#   - checkov (PyPI), in its own venv so its pinned dependencies never clobber the image's
#     Python packages (moto shares that interpreter): $CACHE/checkov-$CHECKOV_VERSION/bin/checkov
#   - kube-score (Go module github.com/zegl/kube-score), `go install`ed into $CACHE/bin
# Idempotent and cheap when both are there; one install at a time per cache (flock), like
# build-k8s.sh, because install-deps.sh and the test may both ask for them.
set -euo pipefail

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
KUBE_SCORE_VERSION="${KUBE_SCORE_VERSION:-v1.20.0}"
CACHE="${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}"
CHECKOV_VENV="$CACHE/checkov-$CHECKOV_VERSION"
step() { printf '[install-scanners %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

have_checkov() { [ -x "$CHECKOV_VENV/bin/checkov" ] && [ -f "$CHECKOV_VENV/.installed" ]; }
have_kube_score() { "$CACHE/bin/kube-score" version 2>/dev/null | grep -q "${KUBE_SCORE_VERSION#v}"; }
if have_checkov && have_kube_score; then
  step "checkov $CHECKOV_VERSION and kube-score $KUBE_SCORE_VERSION cached in $CACHE"
  exit 0
fi

mkdir -p "$CACHE/bin"
exec 9>"$CACHE/scanners.lock"
if ! flock -n 9; then
  step "another install is running; waiting for it"
  flock 9
fi

if ! have_checkov; then
  step "pip install checkov==$CHECKOV_VERSION into $CHECKOV_VENV (cold: a minute or two)"
  rm -rf "$CHECKOV_VENV"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  "$CHECKOV_VENV/bin/checkov" --version >/dev/null
  touch "$CHECKOV_VENV/.installed" # written last: a half-finished venv is redone, not trusted
else
  step "checkov $CHECKOV_VERSION present"
fi

if ! have_kube_score; then
  command -v go >/dev/null 2>&1 || { echo "install-scanners: go is needed to build kube-score" >&2; exit 1; }
  step "go install kube-score $KUBE_SCORE_VERSION into $CACHE/bin"
  # kube-score prints its version from -ldflags (goreleaser); stamp it so the cache check works.
  GOBIN="$CACHE/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install \
    -ldflags "-X main.version=${KUBE_SCORE_VERSION#v}" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
else
  step "kube-score $KUBE_SCORE_VERSION present"
fi
step "done"
