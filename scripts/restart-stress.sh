#!/usr/bin/env bash
# Opt-in stress test of restarts (not part of `npm test`: ~2.5-4 min per cycle on 2 cores).
# Each cycle: `autolytiq sandbox down`, then the quick start (`npm run sandbox`'s script) with the
# go-live checklist signed from an answers file (no terminal, no retries), and `verify` must pass.
# Usage: bash scripts/restart-stress.sh [CYCLES=10]   Results: .autolytiq/restart-stress.txt
# Uses its own AUTOLYTIQ_HOME unless one is set, so a sandbox you are using is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-10}"
export AUTOLYTIQ_HOME="${AUTOLYTIQ_HOME:-$PWD/.autolytiq/stress}"
mkdir -p "$AUTOLYTIQ_HOME"
results="$PWD/.autolytiq/restart-stress.txt"
answers="$AUTOLYTIQ_HOME/answers.yaml"
# Every manual item "yes": what the on-call engineer signs in a rehearsal.
node -e '
  const yaml = require("js-yaml"); const fs = require("fs");
  const c = yaml.load(fs.readFileSync("runbooks/checklist.yaml", "utf8"));
  const answers = {};
  for (const s of c.sections) for (const i of s.items) if (i.manual) answers[i.id] = { answer: "yes", note: "restart stress rehearsal" };
  fs.writeFileSync(process.argv[1], yaml.dump({ environment: "sandbox", signedBy: "restart-stress.sh", answers }));
' "$answers"

npm run build >/dev/null
pass=0
for i in $(seq 1 "$cycles"); do
  t0=$(date +%s)
  log="$AUTOLYTIQ_HOME/cycle-$i.log"
  ok=1
  {
    ./bin/run.js sandbox down || true
    ./bin/run.js sandbox up &&
      { ./bin/run.js checklist --env sandbox --answers "$answers" >/dev/null || [ $? -eq 1 ]; } &&
      ./bin/run.js deploy --env sandbox --yes &&
      ./bin/run.js verify --env sandbox
  } >"$log" 2>&1 || ok=0
  secs=$(( $(date +%s) - t0 ))
  if [ $ok -eq 1 ]; then
    pass=$((pass + 1))
    line="cycle $i: PASS in ${secs}s"
  else
    line="cycle $i: FAIL after ${secs}s: $(grep -E 'FAILED at|Error:|FAIL ' "$log" | head -n 3 | tr '\n' ' ') (log: $log)"
  fi
  printf '%s %s\n' "$(date -u +%FT%TZ)" "$line" | tee -a "$results"
done
./bin/run.js sandbox down >/dev/null 2>&1 || true
printf '%s %d/%d cycles passed\n' "$(date -u +%FT%TZ)" "$pass" "$cycles" | tee -a "$results"
[ "$pass" -eq "$cycles" ]
