#!/usr/bin/env bash
# Brings up the real environment the end-to-end tests and the local run need, on a fresh Debian
# machine or on one where an earlier run was killed: Docker Engine with the containerd image store,
# buildx, a registry on 127.0.0.1:5000 and an offline base image (busybox:latest).
# Idempotent: safe to run again at any time. Must run as root.
set -euo pipefail

log() { printf '[setup-env] %s\n' "$*" >&2; }
REGISTRY_PORT="${REGISTRY_PORT:-5000}"
STATE_DIR="${SETUP_ENV_STATE:-/var/tmp/oneshot-build-env}"
mkdir -p "$STATE_DIR"
export DEBIAN_FRONTEND=noninteractive
# Debian's packages install plugins under /usr/libexec; a client from elsewhere in PATH is ignored.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

need_install() {
  [ -x /usr/sbin/dockerd ] || return 0
  [ -x /usr/libexec/docker/cli-plugins/docker-buildx ] || return 0
  command -v docker-registry >/dev/null || return 0
  command -v busybox >/dev/null || return 0
  command -v zstd >/dev/null || return 0
  command -v htpasswd >/dev/null || return 0
  command -v curl >/dev/null || return 0
  command -v pkill >/dev/null || return 0
  /usr/sbin/dockerd --version | grep -qE 'version (2[5-9]|[3-9][0-9])\.' || return 0
  return 1
}

install_packages() {
  # Ubuntu (22.04 and later) has Docker >= 24 and buildx in its own archive; Debian 12 needs trixie's.
  if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
    log "installing Docker, buildx, containerd, registry, busybox from the Ubuntu archive"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Options::=--force-confold docker.io docker-buildx containerd runc docker-registry busybox-static zstd tar apache2-utils iptables curl procps >/dev/null
    rm -f /usr/sbin/policy-rc.d
    return
  fi
  log "installing Docker 26 (trixie), buildx, containerd, registry, busybox"
  if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
    cat > /etc/apt/sources.list.d/trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    cat > /etc/apt/preferences.d/trixie-low <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
  # Keep package scripts from trying to start services (there is no init system here).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confold -t trixie docker.io docker-buildx containerd runc >/dev/null
  apt-get install -y -qq -o Dpkg::Options::=--force-confold docker-registry busybox-static zstd tar apache2-utils iptables curl procps >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

if need_install; then install_packages; else log "packages present"; fi

DOCKER=/usr/bin/docker

start_dockerd() {
  if $DOCKER info >/dev/null 2>&1; then log "dockerd is running"; return; fi
  mkdir -p /etc/docker
  if [ ! -f /etc/docker/daemon.json ] || ! grep -q containerd-snapshotter /etc/docker/daemon.json; then
    echo '{"features":{"containerd-snapshotter":true}}' > /etc/docker/daemon.json
  fi
  # A killed run leaves pid files and sockets behind; remove them when nothing owns them.
  pkill -x dockerd 2>/dev/null || true
  pkill -f 'containerd --config /var/run/docker/containerd' 2>/dev/null || true
  pkill -x containerd 2>/dev/null || true
  for _ in $(seq 50); do pgrep -x dockerd >/dev/null || pgrep -x containerd >/dev/null || break; sleep 0.1; done
  rm -f /var/run/docker.pid /var/run/docker.sock /run/containerd/containerd.sock \
        /var/run/docker/containerd/containerd.pid /var/run/docker/containerd/containerd.sock \
        /var/run/docker/containerd/containerd-debug.sock
  log "starting containerd and dockerd"
  mkdir -p /run/containerd
  nohup /usr/bin/containerd >"$STATE_DIR/containerd.log" 2>&1 &
  for _ in $(seq 100); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done
  nohup /usr/sbin/dockerd --containerd=/run/containerd/containerd.sock >"$STATE_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 300); do $DOCKER info >/dev/null 2>&1 && break; sleep 0.2; done
  if ! $DOCKER info >/dev/null 2>&1; then
    log "dockerd did not come up; its log:"; tail -n 40 "$STATE_DIR/dockerd.log" >&2; exit 1
  fi
}

start_registry() {
  if curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; then log "registry is running"; return; fi
  pkill -x docker-registry 2>/dev/null || true
  mkdir -p "$STATE_DIR/registry"
  cat > "$STATE_DIR/registry.yml" <<CFG
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
  nohup docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 &
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null || { tail -n 20 "$STATE_DIR/registry.log" >&2; exit 1; }
}

base_image() {
  if $DOCKER image inspect busybox:latest >/dev/null 2>&1; then log "base image busybox:latest present"; return; fi
  log "creating base image busybox:latest offline"
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/var" "$root/dev" "$root/proc" "$root/sys"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for app in $("$root/bin/busybox" --list); do [ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  tar -C "$root" -c . | $DOCKER import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - busybox:latest >/dev/null
  rm -rf "$root"
}

start_dockerd
start_registry
base_image
$DOCKER buildx version >&2
log "ready: docker $($DOCKER version --format '{{.Server.Version}}'), registry 127.0.0.1:$REGISTRY_PORT"
