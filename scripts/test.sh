#!/usr/bin/env bash
# The whole test suite: typecheck, unit tests, then end-to-end tests of the bundled dist/ against
# real Docker Engines, buildx, a registry and the local Actions cache service, on a matrix of real
# toolchains, each on its own daemon (scripts/toolchains.sh):
#   a  Debian trixie's Docker 26.1, buildx 0.13, BuildKit 0.13, containerd image store (docker driver)
#   b  Debian sid's Docker 28.5, buildx 0.29, BuildKit 0.25, containerd image store (docker driver)
#   c  the same Docker 28.5 with the classic image store: a docker-container builder (hosted runners)
#   d  a BuildKit daemon on a local socket, through the remote driver
# Every end-to-end test runs dist/ with the Node that action.yml's runs.using names (Node 24, which
# npm ci installs: scripts/lib/action-node.mjs); jest itself runs on the machine's Node.
# a and b run every end-to-end test but cache-hang (a) and cache-race and local-action (b); c runs
# the cache tests (layer cache, poisoning, racing saves, hung calls, 200 layers and eviction), classic-store,
# multi-platform (distribute mode needs its docker-container builder) and build-inputs (load,
# test-run, ssh, call, registry cache on a docker-container builder); d the remote test.
# OBC_TOOLCHAINS="a b" picks some; extra arguments go to jest.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
fail=0
toolchains=${OBC_TOOLCHAINS:-a b c d}
envdir=${SETUP_ENV_STATE:-/var/tmp/oneshot-build-env}/toolchains

echo "== typecheck"
npx tsc --noEmit -p . || fail=1

echo "== environment: toolchains $toolchains, registry, base images"
asroot() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
asroot bash scripts/setup-env.sh || fail=1
# shellcheck disable=SC2086
asroot bash scripts/toolchains.sh up $toolchains || fail=1

[ -f dist/main/index.js ] || npm run build

export NODE_OPTIONS=--experimental-vm-modules
npx jest --selectProjects unit --json --outputFile "$out/unit.json" "$@" || fail=1

# Runs the e2e tests on one toolchain, with its env file's variables (DOCKER_HOST, DOCKER_CONFIG,
# OBC_PATH_PREPEND, ...) in the environment of jest and so of the action.
e2e_on() {
  local name=$1; shift
  local file="$envdir/$name.env"
  if [ ! -f "$file" ]; then
    echo "toolchain $name: no $file (it did not come up)" >&2
    fail=1
    return
  fi
  echo "== end-to-end tests on toolchain $name: $(grep '^OBC_TOOLCHAIN_DESC=' "$file" | cut -d= -f2-)"
  (
    # Plain KEY=VALUE lines (values may hold spaces; nothing is evaluated).
    while IFS= read -r line; do
      case $line in [A-Z_]*=*) export "${line%%=*}=${line#*=}" ;; esac
    done < "$file"
    [ -n "${OBC_PATH_PREPEND:-}" ] && export PATH="$OBC_PATH_PREPEND:$PATH"
    npx jest --selectProjects e2e --runInBand --json --outputFile "$out/e2e-$name.json" "$@"
  ) || fail=1
}

# The toolchains run side by side (each has its own daemon; the tests use unique registry names),
# each with its own log, printed whole when it ends. OBC_E2E_SERIAL=1 runs them one after another.
e2e_toolchain() {
  case $1 in
    # The racing-saves and hung-call tests run on c and on one of a and b each, so that no
    # toolchain's stream makes the whole run long.
    a) e2e_on a '--testPathIgnorePatterns=classic-store|remote|cache-hang' "${@:2}" ;;
    # local-action runs once, on a (the action under GitHub's local runner does not depend on the daemon).
    b) e2e_on b '--testPathIgnorePatterns=classic-store|remote|cache-race|local-action' "${@:2}" ;;
    c) e2e_on c 'e2e/(cache|cache-poison|cache-race|cache-hang|cache-scale|classic-store|multi-platform|build-inputs)\.test' "${@:2}" ;;
    d) e2e_on d 'e2e/remote\.test' "${@:2}" ;;
    *) echo "unknown toolchain $1" >&2; fail=1 ;;
  esac
  return $fail
}
pids=()
for t in $toolchains; do
  if [ -n "${OBC_E2E_SERIAL:-}" ]; then
    e2e_toolchain "$t" "$@" || fail=1
  else
    e2e_toolchain "$t" "$@" > "$out/log-$t" 2>&1 &
    pids+=("$t:$!")
  fi
done
for entry in "${pids[@]}"; do
  t=${entry%%:*}
  wait "${entry#*:}" || fail=1
  cat "$out/log-$t"
done

node -e '
  const fs = require("fs");
  let p = 0, f = 0, s = 0;
  const dir = process.argv[1];
  const names = ["unit", ...process.argv.slice(2).map((t) => "e2e-" + t)];
  for (const n of names) {
    try { const r = JSON.parse(fs.readFileSync(dir + "/" + n + ".json", "utf8"));
      p += r.numPassedTests; f += r.numFailedTests + r.numRuntimeErrorTestSuites; s += r.numPendingTests;
      console.log(`${n}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
    } catch { f += 1; console.log(n + ": no results"); }
  }
  console.log(`${p} passed, ${f} failed, ${s} skipped`);
' "$out" $toolchains
exit $fail
