#!/usr/bin/env bash
# `npm run sandbox`: the whole go-live runbook on the local sandbox, on a fresh machine, in one
# command. Installs what it needs (Debian packages, moto, helm, npm packages, the Kubernetes
# control plane — cached after the first build), starts the sandbox, runs every phase of
# runbooks/go-live.yaml against it and verifies the result. Safe to re-run: every part is
# skipped or re-checked when already done. Stop the sandbox with `autolytiq sandbox down`.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))" >&2; }

say "system dependencies (Debian packages, moto, helm, Kubernetes control plane)"
bash scripts/install-deps.sh

say "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

say "build"
npm run build

# `autolytiq` in every new shell (npm link). Nothing is exported for the commands below: the CLI
# finds the helm install-deps.sh put in ~/.cache/autolytiq/bin itself, and autolytiq.yaml says
# the sandbox's images come from CI (its own publisher), so what runs here runs the same by hand.
say "autolytiq command"
bash scripts/link-cli.sh

say "sandbox up"
./bin/run.js sandbox up

say "deploy --env sandbox (all eight phases)"
# --yes never answers the go-live checklist's manual items (plan 8.7): a person does, in a
# terminal; release.tag waits for them. Everything before it runs unattended.
# The deploy writes to the terminal itself, so its live progress view shows (a pipe would turn it
# into plain lines); `script` keeps the terminal and copies everything to the log.
log="${AUTOLYTIQ_HOME:-.autolytiq}/sandbox-deploy.log"
mkdir -p "$(dirname "$log")"
logged() {
  if [ -t 0 ] && [ -t 2 ] && [ "${CI:-}" != "true" ] && command -v script >/dev/null 2>&1; then
    script -qefc "$(printf '%q ' "$@")" -a "$log"
  else
    "$@" 2>&1 | tee -a "$log"
  fi
}
# Where the last run stopped, from the state (not from scraping the output).
stopped_at() {
  ./bin/run.js status --env sandbox --json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).lastRun?.stoppedAt??""))'
}
if ! logged ./bin/run.js deploy --env sandbox --yes; then
  [ "$(stopped_at)" = "checklist.go-live" ] || { printf '\nThe deploy failed (log: %s).\n' "$log" >&2; exit 1; }
  if [ -t 0 ] && [ -t 2 ] && [ "${CI:-}" != "true" ]; then
    say "go-live checklist: answer the manual items (who and when are recorded)"
    ./bin/run.js checklist --env sandbox || true
    say "deploy --env sandbox (resume)"
    logged ./bin/run.js deploy --env sandbox --yes
  else
    printf '\nThe runbook stopped before release.tag: the go-live checklist needs a person.\n' >&2
    printf 'In a terminal: autolytiq checklist --env sandbox && autolytiq deploy --env sandbox --yes\n' >&2
    printf 'Or sign it from a reviewed file: autolytiq checklist --env sandbox --answers FILE (see runbooks/go-live-answers.example.yaml)\n' >&2
  fi
fi

say "verify --env sandbox"
report="${AUTOLYTIQ_HOME:-.autolytiq}/sandbox-report.md"
./bin/run.js verify --env sandbox --report "$report"

say "done: the sandbox is live (report: $report; stop it with autolytiq sandbox down)"
