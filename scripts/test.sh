#!/usr/bin/env bash
# The whole test suite: typecheck, unit tests, then end-to-end tests of the bundled dist/ against a
# real Docker Engine, buildx, registry and the local Actions cache service.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
fail=0

echo "== typecheck"
npx tsc --noEmit -p . || fail=1

echo "== environment (Docker, buildx, registry, base image)"
if [ "$(id -u)" = 0 ]; then bash scripts/setup-env.sh || fail=1
else sudo -n bash scripts/setup-env.sh || fail=1; fi

[ -f dist/main/index.js ] || npm run build

export NODE_OPTIONS=--experimental-vm-modules
npx jest --selectProjects unit --json --outputFile "$out/unit.json" "$@" || fail=1
npx jest --selectProjects e2e --runInBand --json --outputFile "$out/e2e.json" "$@" || fail=1

node -e '
  const fs = require("fs");
  let p = 0, f = 0, s = 0;
  for (const n of ["unit", "e2e"]) {
    try { const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + n + ".json", "utf8"));
      p += r.numPassedTests; f += r.numFailedTests + r.numRuntimeErrorTestSuites; s += r.numPendingTests;
    } catch { f += 1; console.log(n + ": no results"); }
  }
  console.log(`${p} passed, ${f} failed, ${s} skipped`);
' "$out"
exit $fail
