#!/usr/bin/env bash
# Brings up the real environment the end-to-end tests and the local run need, on a fresh Debian
# machine or on one where an earlier run was killed: Docker Engine with the containerd image store,
# buildx, a registry on 127.0.0.1:5000, an offline base image (busybox:latest), and for the
# multi-platform tests binfmt_misc, a binfmt installer stand-in and a linux/amd64+arm64 busybox
# index in the registry (scripts/toolchains/emulation.sh).
# This is toolchain "a" of scripts/toolchains.sh. Idempotent: safe to run again at any time.
# Must run as root.
#
#   setup-env.sh            install what is missing, start containerd, dockerd and the registry
#   setup-env.sh tools [PKG...]     only install the bookworm tools (registry, busybox-static,
#                                   curl, ...) and the extra distribution packages PKG
#   setup-env.sh registry [PKG...]  tools + the registry
#   setup-env.sh install            tools + the Docker packages, start nothing
#   setup-env.sh down       stop what this script started (by its pid files), nothing else
#
# On Debian 12 it takes docker.io, docker-cli, docker-buildx and containerd from Debian 13
# (trixie), named one by one, with a trixie apt source pinned to priority 100 so that nothing
# else ever moves to trixie. It simulates the install first and refuses to go on when apt would
# remove a package or upgrade anything it was not asked for (apt, dpkg, libc6, python3, ...).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OBC_LOG_TAG=setup-env
# shellcheck source=toolchains/docker-common.sh
. "$HERE/toolchains/docker-common.sh"
# shellcheck source=toolchains/emulation.sh
. "$HERE/toolchains/emulation.sh"

[ "$(id -u)" = 0 ] || die "must run as root"
REGISTRY_PORT="${REGISTRY_PORT:-5000}"
STATE_DIR="$OBC_STATE_DIR"
A_DIR="$OBC_TC_DIR/a"
mkdir -p "$STATE_DIR" "$A_DIR"
export DEBIAN_FRONTEND=noninteractive
# Debian's packages install plugins under /usr/libexec; a client from elsewhere in PATH is ignored.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
CONTAINERD=/usr/bin/containerd
REGISTRY_BIN=/usr/bin/docker-registry
DOCKER_SOCK=/var/run/docker.sock
CONTAINERD_SOCK=/run/containerd/containerd.sock
DOCKERD_PID="$A_DIR/dockerd.pid"
CONTAINERD_PID="$A_DIR/containerd.pid"
REGISTRY_PID="$STATE_DIR/registry.pid"
REGISTRY_CFG="$STATE_DIR/registry.yml"
TRIXIE_PKGS="docker.io docker-cli docker-buildx containerd"

# --- packages --------------------------------------------------------------------------------

missing_tools() {
  local p out=""
  # openssh-client: ssh-agent, ssh-keygen and ssh-add for the e2e test of the ssh input.
  for p in docker-registry busybox-static zstd tar apache2-utils iptables curl procps openssh-client $EXTRA_TOOLS; do
    pkg_installed "$p" && continue
    # A static /bin/busybox from elsewhere does as well as the package.
    if [ "$p" = busybox-static ] && [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then continue; fi
    out="$out $p"
  done
  echo "$out"
}

# The trixie packages that are missing, or all of docker.io/docker-cli when dockerd is older than 25.
missing_docker() {
  local p out=""
  for p in $TRIXIE_PKGS; do pkg_installed "$p" || out="$out $p"; done
  if [ -x "$DOCKERD" ] && ! "$DOCKERD" --version | grep -qE 'version (2[5-9]|[3-9][0-9])\.'; then
    out="$out docker.io docker-cli"
  fi
  [ -x "$DOCKER" ] || out="$out docker-cli"
  echo "$out" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '
}

apt_update_once() {
  [ -n "${APT_UPDATED:-}" ] && return 0
  log "apt-get update (system lists)"
  apt-get update -qq >"$STATE_DIR/apt-update.log" 2>&1 || { tail -n 20 "$STATE_DIR/apt-update.log" >&2; die "apt-get update failed"; }
  APT_UPDATED=1
}

trixie_source() {
  if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
    log "adding the trixie apt source (pinned to priority 100)"
    cat >/etc/apt/sources.list.d/trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    APT_UPDATED=
  fi
  if [ ! -f /etc/apt/preferences.d/trixie-low ]; then
    cat >/etc/apt/preferences.d/trixie-low <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
}

install_tools() {
  local tools; tools=$(missing_tools)
  [ -n "${tools// /}" ] || return 0
  apt_update_once
  log "installing from the distribution's own archive:$tools"
  # shellcheck disable=SC2086
  apt_install_guarded "" $tools
}

install_docker() {
  local pkgs; pkgs=$(missing_docker)
  [ -n "${pkgs// /}" ] || { log "Docker packages present"; return 0; }
  if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
    # Ubuntu (22.04 and later) has Docker >= 24 and buildx in its own archive (not tested here).
    apt_update_once
    log "installing from the Ubuntu archive: $pkgs runc"
    # shellcheck disable=SC2086
    apt_install_guarded "$pkgs" $pkgs runc
    return 0
  fi
  grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null ||
    log "warning: not Debian 12; taking Docker from trixie anyway"
  trixie_source
  apt_update_once
  local p args=""
  for p in $pkgs; do args="$args $p/trixie"; done
  # runc and tini come from bookworm: trixie's runc needs glibc 2.38, which would drag libc6 along.
  pkg_installed runc || args="$args runc"
  log "installing from trixie:$args"
  # shellcheck disable=SC2086
  apt_install_guarded "$pkgs" $args
}

# --- daemons ---------------------------------------------------------------------------------

docker_ok() { "$DOCKER" -H "unix://$DOCKER_SOCK" info >/dev/null 2>&1; }
ctr_ok() { command -v ctr >/dev/null && ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }

start_containerd() {
  if pid_ours "$CONTAINERD_PID" "$CONTAINERD" >/dev/null; then
    if wait_for 5 ctr_ok; then log "containerd is running"; return 0; fi
    log "containerd does not answer on $CONTAINERD_SOCK; restarting it"
  fi
  stop_pidfile containerd "$CONTAINERD_PID" "$CONTAINERD"
  if ctr_ok; then log "a containerd this script did not start serves $CONTAINERD_SOCK; using it"; return 0; fi
  rm_stale_socket "$CONTAINERD_SOCK"; rm_stale_socket "$CONTAINERD_SOCK.ttrpc"
  log "starting containerd"
  mkdir -p /run/containerd
  start_bg "$CONTAINERD_PID" "$CONTAINERD" "$A_DIR/containerd.log"
  note_started containerd "$CONTAINERD_PID" "$CONTAINERD"
  CONTAINERD_RESTARTED=1
  wait_up "$CONTAINERD_PID" 20 ctr_ok || { tail -n 30 "$A_DIR/containerd.log" >&2; die "containerd did not come up"; }
}

start_dockerd() {
  mkdir -p /etc/docker
  if [ ! -f /etc/docker/daemon.json ] || ! grep -q containerd-snapshotter /etc/docker/daemon.json; then
    echo '{"features":{"containerd-snapshotter":true}}' >/etc/docker/daemon.json
  fi
  if pid_ours "$DOCKERD_PID" "$DOCKERD" "--pidfile=$DOCKERD_PID" >/dev/null; then
    if [ -n "${CONTAINERD_RESTARTED:-}" ]; then
      log "containerd was restarted; restarting dockerd so that it reconnects at once"
    elif wait_for 10 docker_ok; then log "dockerd is running"; return 0
    else log "dockerd does not answer on $DOCKER_SOCK; restarting it"; fi
  fi
  stop_pidfile dockerd "$DOCKERD_PID" "$DOCKERD" "--pidfile=$DOCKERD_PID"
  if docker_ok; then log "a dockerd this script did not start serves $DOCKER_SOCK; using it"; return 0; fi
  rm_stale_socket "$DOCKER_SOCK"
  log "starting dockerd"
  start_bg "$DOCKERD_PID.start" "$DOCKERD" "$A_DIR/dockerd.log" \
    --containerd="$CONTAINERD_SOCK" --pidfile="$DOCKERD_PID" -H "unix://$DOCKER_SOCK"
  note_started dockerd "$DOCKERD_PID" "$DOCKERD" "--pidfile=$DOCKERD_PID"
  if ! wait_up "$DOCKERD_PID.start" 60 docker_ok; then
    rm -f "$DOCKERD_PID.start"
    log "dockerd did not come up; its log:"; tail -n 40 "$A_DIR/dockerd.log" >&2
    stop_pidfile dockerd "$DOCKERD_PID" "$DOCKERD" "--pidfile=$DOCKERD_PID"
    exit 1
  fi
  rm -f "$DOCKERD_PID.start"
}

registry_ok() { curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; }

start_registry() {
  if pid_ours "$REGISTRY_PID" "$REGISTRY_BIN" "$REGISTRY_CFG" >/dev/null && wait_for 5 registry_ok; then
    log "registry is running"; return 0
  fi
  stop_pidfile registry "$REGISTRY_PID" "$REGISTRY_BIN" "$REGISTRY_CFG"
  if registry_ok; then log "something this script did not start serves 127.0.0.1:$REGISTRY_PORT; using it"; return 0; fi
  mkdir -p "$STATE_DIR/registry"
  cat >"$REGISTRY_CFG" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
CFG
  log "starting registry on 127.0.0.1:$REGISTRY_PORT"
  start_bg "$REGISTRY_PID" "$REGISTRY_BIN" "$STATE_DIR/registry.log" serve "$REGISTRY_CFG"
  note_started registry "$REGISTRY_PID" "$REGISTRY_BIN"
  wait_up "$REGISTRY_PID" 10 registry_ok || { tail -n 20 "$STATE_DIR/registry.log" >&2; die "the registry did not come up"; }
}

down() {
  stop_pidfile dockerd "$DOCKERD_PID" "$DOCKERD" "--pidfile=$DOCKERD_PID"
  stop_pidfile containerd "$CONTAINERD_PID" "$CONTAINERD"
  stop_pidfile registry "$REGISTRY_PID" "$REGISTRY_BIN" "$REGISTRY_CFG"
}

obc_lock
EXTRA_TOOLS=""
case "${1:-all}" in
  tools|registry) EXTRA_TOOLS="${*:2}" ;;
esac
case "${1:-all}" in
  down) down; exit 0 ;;
  tools) install_tools; exit 0 ;;
  registry) install_tools; start_registry; exit 0 ;;
  install) install_tools; install_docker; exit 0 ;;
  all|up|"") ;;
  *) die "unknown argument '$1' (use: all, tools, registry, install, down)" ;;
esac

install_tools
install_docker
start_containerd
start_dockerd
start_registry
import_busybox "$DOCKER" -H "unix://$DOCKER_SOCK"
emulation_setup "$DOCKER" -H "unix://$DOCKER_SOCK"
"$DOCKER" buildx version >&2
log "ready: docker $("$DOCKER" version --format '{{.Server.Version}}'), registry 127.0.0.1:$REGISTRY_PORT"
