#!/usr/bin/env bash
# Several real Docker toolchains on one machine, each on its own daemon, for the end-to-end tests.
#
#   toolchains.sh up [a|b|c|d|all ...]   start them (default all); idempotent
#   toolchains.sh env NAME               print NAME's env file
#   toolchains.sh down [NAME ...]        stop what these scripts started (default all)
#
#   a  the default: Debian trixie's Docker 26 / buildx 0.13 with the containerd image store on
#      /var/run/docker.sock, the registry on 127.0.0.1:5000, busybox:latest (scripts/setup-env.sh)
#   b  Debian sid's Docker 28 / buildx 0.29 / containerd 2.1 / runc 1.3 from a private prefix,
#      containerd image store, on /run/obc-toolchains/b/docker.sock
#   c  the same binaries with the classic overlay2 store, for buildx's docker-container driver
#      (BuildKit image moby/buildkit:buildx-stable-1 from scripts/toolchains/buildkit.sh)
#   d  a host buildkitd for buildx's remote driver (scripts/toolchains/buildkit.sh remote)
#
# Each `up` writes /var/tmp/oneshot-build-env/toolchains/NAME.env, plain KEY=VALUE lines that the
# tests put into the environment of the processes they start (OBC_PATH_PREPEND goes before PATH).
# Logs are in /var/tmp/oneshot-build-env/toolchains/NAME/. Processes are stopped only through the
# pid files these scripts wrote, after checking /proc/PID/exe. Must run as root.
set -euo pipefail

OBC_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OBC_LOG_TAG=toolchains
# shellcheck source=toolchains/docker-common.sh
. "$OBC_REPO/scripts/toolchains/docker-common.sh"
# shellcheck source=toolchains/docker-sid.sh
. "$OBC_REPO/scripts/toolchains/docker-sid.sh"
# shellcheck source=toolchains/emulation.sh
. "$OBC_REPO/scripts/toolchains/emulation.sh"
BUILDKIT_SH="$OBC_REPO/scripts/toolchains/buildkit.sh"
ALL="a b c d"
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

usage() { sed -n '3,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

names() { # expands "all" and checks names
  local n out=""
  [ $# -gt 0 ] || set -- all
  for n in "$@"; do
    case "$n" in
      all) out="$out $ALL" ;;
      a|b|c|d) out="$out $n" ;;
      *) die "unknown toolchain '$n' (a, b, c, d or all)" ;;
    esac
  done
  echo "$out"
}

up_a() {
  OBC_LOCK_HELD=1 bash "$OBC_REPO/scripts/setup-env.sh"
  local docker="/usr/bin/docker -H unix:///var/run/docker.sock" ver bx store
  ver=$($docker version --format '{{.Server.Version}}')
  bx=$(/usr/bin/docker buildx version | awk '{print $2}')
  store=$($docker info --format '{{.Driver}} {{.DriverStatus}}')
  local kind="classic store"; case "$store" in *snapshotter*) kind="containerd store" ;; esac
  write_env a OBC_TOOLCHAIN=a DOCKER_HOST=unix:///var/run/docker.sock \
    "OBC_TOOLCHAIN_DESC=docker $ver / buildx $bx / $kind / docker driver"
  echo "a: docker $ver, buildx $bx, storage driver ${store%% *}, containerd $(/usr/bin/containerd --version | awk '{print $3}'), runc $(/usr/sbin/runc --version | awk 'NR==1{print $3}') [unix:///var/run/docker.sock]" >"$OBC_TC_DIR/a/summary"
}

up_d() {
  [ -f "$BUILDKIT_SH" ] || die "d: $BUILDKIT_SH does not exist; toolchain d cannot be brought up"
  mkdir -p "$OBC_TC_DIR/d"
  bash "$BUILDKIT_SH" remote
  [ -s "$OBC_TC_DIR/d.env" ] || die "d: buildkit.sh remote did not write $OBC_TC_DIR/d.env"
}

down_one() {
  case "$1" in
    a) OBC_LOCK_HELD=1 bash "$OBC_REPO/scripts/setup-env.sh" down ;;
    b|c) tc_stop "$1" ;;
    d) if [ -f "$BUILDKIT_SH" ]; then bash "$BUILDKIT_SH" stop; else log "d: no $BUILDKIT_SH; nothing to stop"; fi ;;
  esac
}

summary_line() {
  if [ -s "$OBC_TC_DIR/$1/summary" ] && [ "$1" != d ]; then cat "$OBC_TC_DIR/$1/summary"; return; fi
  printf '%s: %s\n' "$1" "$(sed -n 's/^OBC_TOOLCHAIN_DESC=//p' "$OBC_TC_DIR/$1.env" 2>/dev/null)"
}

cmd_up() {
  local list n failed="" ok="" skipped="" explicit=1
  [ $# -eq 0 ] || [ "$*" = all ] && explicit=0
  list=$(names "$@")
  [ "$(id -u)" = 0 ] || die "must run as root"
  obc_lock
  mkdir -p "$OBC_TC_DIR"
  local t0=$SECONDS
  for n in $list; do
    if [ "$n" = d ] && [ "$explicit" = 0 ] && [ ! -f "$BUILDKIT_SH" ]; then
      log "d: $BUILDKIT_SH does not exist yet; skipping toolchain d"; skipped="$skipped d"; continue
    fi
    log "== up $n"
    mkdir -p "$OBC_TC_DIR/$n"
    local started="$OBC_TC_DIR/$n/started-by-last-up"
    : >"$started"
    # A child bash, so that set -e holds inside (it does not in an `if` condition).
    if OBC_STARTED_FILE="$started" bash "${BASH_SOURCE[0]}" _up1 "$n"; then
      ok="$ok $n"
    else
      log "$n: FAILED"
      failed="$failed $n"
      rm -f "$OBC_TC_DIR/$n.env"
      # Leave nothing half-started: stop the daemons this run started for it, newest first
      # (daemons that were already running before are left alone).
      local name pidf exe marker
      while IFS=$'\t' read -r name pidf exe marker; do
        stop_pidfile "$name" "$pidf" "$exe" "$marker"
      done < <(tac "$started")
    fi
  done
  log "== done in $((SECONDS - t0)) s"
  for n in $ok; do summary_line "$n"; done
  for n in $skipped; do echo "$n: skipped (no scripts/toolchains/buildkit.sh)"; done
  for n in $failed; do echo "$n: FAILED (see the messages above and $OBC_TC_DIR/$n/)"; done
  [ -z "$failed" ]
}

cmd_down() {
  local list n
  list=$(names "$@")
  obc_lock
  # Reverse order: c's builder and d may use the registry that a runs.
  for n in $(echo "$list" | tr ' ' '\n' | sed '/^$/d' | tac); do log "== down $n"; ( down_one "$n" ) || true; done
}

cmd_env() {
  [ $# -eq 1 ] || usage
  names "$1" >/dev/null
  [ -s "$OBC_TC_DIR/$1.env" ] || die "no $OBC_TC_DIR/$1.env; run: bash scripts/toolchains.sh up $1"
  cat "$OBC_TC_DIR/$1.env"
}

up1() {
  mkdir -p "$OBC_TC_DIR/$1"
  case "$1" in a) up_a ;; b|c) tc_up "$1" ;; d) up_d ;; esac
}

case "${1:-}" in
  _up1) shift; [ -n "${OBC_LOCK_HELD:-}" ] || die "_up1 is internal; use: up NAME"; up1 "$1" ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  env) shift; cmd_env "$@" ;;
  *) usage ;;
esac
