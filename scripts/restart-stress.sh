#!/usr/bin/env bash
# Opt-in stress test of restarts (not part of `npm test`: ~3-5 min per cycle on 2 cores).
# Each cycle is what a newcomer does to start over: `autolytiq sandbox down`, then `npm run
# sandbox` (install check, build, link, sandbox up, the whole go-live runbook, verify). No terminal
# here, so the go-live checklist is signed from an answers file first (after `sandbox up`, which
# `npm run sandbox` then finds already up); no retries. The cycle passes when `npm run sandbox`
# exits 0 and its verify report says PASS or WARN.
# Usage: bash scripts/restart-stress.sh [CYCLES=10]
# Results: .autolytiq/restart-stress.txt (one line per cycle) and bench/results/restart-cycles.json.
# Uses its own AUTOLYTIQ_HOME unless one is set, so a sandbox you are using is left alone, and its
# own npm prefix for the `autolytiq` link (nothing is linked into the machine's global folder).
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-10}"
export AUTOLYTIQ_HOME="${AUTOLYTIQ_HOME:-$PWD/.autolytiq/stress}"
mkdir -p "$AUTOLYTIQ_HOME"
export NPM_CONFIG_PREFIX="$AUTOLYTIQ_HOME/npm-global"
export PATH="$NPM_CONFIG_PREFIX/bin:$PATH"
results="$PWD/.autolytiq/restart-stress.txt"
jsonl="$AUTOLYTIQ_HOME/cycles.jsonl"
: >"$jsonl"
answers="$AUTOLYTIQ_HOME/answers.yaml"
report="$AUTOLYTIQ_HOME/sandbox-report.md"
# Every manual item "yes": what the on-call engineer signs in a rehearsal.
node -e '
  const yaml = require("js-yaml"); const fs = require("fs");
  const c = yaml.load(fs.readFileSync("runbooks/checklist.yaml", "utf8"));
  const answers = {};
  for (const s of c.sections) for (const i of s.items) if (i.manual) answers[i.id] = { answer: "yes", note: "restart stress rehearsal" };
  fs.writeFileSync(process.argv[1], yaml.dump({ environment: "sandbox", signedBy: "restart-stress.sh", answers }));
' "$answers"

npm run build >/dev/null
started="$(date -u +%FT%TZ)"
load="$(cut -d' ' -f1 /proc/loadavg)"
pass=0
for i in $(seq 1 "$cycles"); do
  t0=$(date +%s)
  log="$AUTOLYTIQ_HOME/cycle-$i.log"
  rm -f "$report"
  code=0
  {
    ./bin/run.js sandbox down || true
    ./bin/run.js sandbox up &&
      { ./bin/run.js checklist --env sandbox --answers "$answers" >/dev/null || [ $? -eq 1 ]; } &&
      npm run sandbox
  } >"$log" 2>&1 || code=$?
  secs=$(($(date +%s) - t0))
  # The verdict of the quick start's own `verify --env sandbox --report` (its first line).
  verdict=""
  if [ -f "$report" ]; then verdict="$(head -n 1 "$report" | sed -n 's/.* — \([A-Z]*\)$/\1/p')"; fi
  failure=""
  if [ "$code" -eq 0 ] && { [ "$verdict" = PASS ] || [ "$verdict" = WARN ]; }; then
    pass=$((pass + 1))
    line="cycle $i: PASS in ${secs}s (verify $verdict)"
  else
    failure="$(grep -E 'FAILED at|Error:|FAIL |failed' "$log" | head -n 3 | tr '\n' ' ' || true)"
    line="cycle $i: FAIL (exit $code, verify ${verdict:-none}) after ${secs}s: $failure (log: $log)"
  fi
  printf '%s %s\n' "$(date -u +%FT%TZ)" "$line" | tee -a "$results"
  node -e 'const [c, code, s, v, f, l] = process.argv.slice(1); console.log(JSON.stringify({ cycle: +c, exitCode: +code, seconds: +s, verify: v || null, ...(f ? { failure: f.trim(), log: l } : {}) }))' \
    "$i" "$code" "$secs" "$verdict" "$failure" "$log" >>"$jsonl"
done
./bin/run.js sandbox down >/dev/null 2>&1 || true
printf '%s %d/%d cycles passed\n' "$(date -u +%FT%TZ)" "$pass" "$cycles" | tee -a "$results"
# shellcheck disable=SC2016 # JavaScript, not shell: its template literals are not expansions
node -e '
  const fs = require("fs"); const os = require("os");
  const [jsonl, out, started, load, commit] = process.argv.slice(1);
  const cycles = fs.readFileSync(jsonl, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const secs = cycles.map((c) => c.seconds).sort((a, b) => a - b);
  const ok = cycles.filter((c) => c.exitCode === 0 && ["PASS", "WARN"].includes(c.verify)).length;
  fs.writeFileSync(out, JSON.stringify({
    what: "cycles of `autolytiq sandbox down` + `npm run sandbox` (checklist signed from an answers file), no retries",
    machine: `${os.cpus().length} x ${os.cpus()[0].model.split(" ").slice(0, 2).join(" ")}, node ${process.version}, load average ${load} at start`,
    commit, startedAt: started, endedAt: new Date().toISOString(),
    passed: ok, total: cycles.length,
    secondsMedian: secs[Math.floor(secs.length / 2)], secondsMin: secs[0], secondsMax: secs[secs.length - 1],
    cycles,
  }, null, 2) + "\n");
' "$jsonl" bench/results/restart-cycles.json "$started" "$load" "$(git rev-parse --short HEAD)"
[ "$pass" -eq "$cycles" ]
