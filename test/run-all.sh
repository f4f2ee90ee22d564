#!/usr/bin/env bash
# The README's test command (`npm test`). Works on a brand-new machine: installs what the tests
# need (Debian packages, moto, helm, npm packages), builds or reuses the cached Kubernetes control
# plane, builds the CLI, runs lint, typecheck and every test layer. Servers are started and
# stopped by the test harness itself (test/setup/global-setup.ts), also when a test fails.
set -euo pipefail
# The AWS SDK warns every Node 20 process (test workers too) about its future Node 22 floor: noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
cd "$(dirname "$0")/.."
t0=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))" >&2; }

say "system dependencies"
# the tests also need zsh, shellcheck and actionlint; the sandbox path does not
AUTOLYTIQ_TEST_DEPS=1 bash scripts/install-deps.sh

say "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

say "Kubernetes control plane and External Secrets Operator (cached after the first build)"
bash test/harness/scripts/build-k8s.sh
bash test/harness/scripts/build-eso.sh

say "build"
npm run build

say "lint and typecheck"
npm run lint
npm run typecheck

say "terraform fmt"
terraform fmt -check -recursive terraform

if [ "$#" -gt 0 ]; then
  say "tests: $*"
  npx vitest run "$@"
  say "all tests passed"
  exit 0
fi

# Three vitest processes side by side (vitest.config.ts says why processes, not workers): the kill
# matrix; the unit tests and the other `isolated` files (each starts its own sandbox, or needs only
# moto and terraform); and the shared-harness integration files. Each line of the first two is
# prefixed so the interleaved log reads; a failure in any fails the run, and all always finish so
# every failure is reported.
say "tests (three processes: kill | unit+isolated | integration)"
npx vitest run --project kill > >(sed -u 's/^/[kill] /') 2>&1 &
kill_pid=$!
npx vitest run --project unit --project isolated > >(sed -u 's/^/[isolated] /') 2>&1 &
isolated_pid=$!
trap 'kill "$kill_pid" "$isolated_pid" 2>/dev/null || true' EXIT
set +e
npx vitest run --project integration
shared_rc=$?
wait "$isolated_pid"
isolated_rc=$?
wait "$kill_pid"
kill_rc=$?
set -e
if [ "$shared_rc" -ne 0 ] || [ "$isolated_rc" -ne 0 ] || [ "$kill_rc" -ne 0 ]; then
  say "tests failed (integration exit $shared_rc, unit+isolated exit $isolated_rc, kill exit $kill_rc)"
  exit 1
fi
say "all tests passed"
