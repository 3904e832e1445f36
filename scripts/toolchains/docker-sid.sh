# Toolchains b and c: Debian sid's Docker (docker.io, docker-cli, docker-buildx, containerd, runc)
# unpacked into a private prefix and run as separate daemons next to the system's Docker.
# Sourced by scripts/toolchains.sh after docker-common.sh.
#
# Nothing is installed with dpkg: the .debs are fetched with `apt-get download` through a private
# apt configuration (own sources list, lists and caches; the system's are never read or written)
# and unpacked with `dpkg-deb -x`. sid's runc needs glibc 2.38 (bookworm has 2.36), so sid's libc6
# and libseccomp2 are unpacked next to it and the prefix's runc is pointed at them with patchelf;
# every other binary runs on bookworm's libraries as it is.

SID_CACHE=${OBC_SID_CACHE:-/var/cache/obc-toolchains/sid}
SID_ROOT=$SID_CACHE/root
SID_LIBC=$SID_CACHE/libc
SID_LIBDIR=$SID_LIBC/usr/lib/x86_64-linux-gnu
SID_APT=$SID_CACHE/apt
SID_DEBS=$SID_CACHE/debs
SID_STAMP=$SID_CACHE/prefix.ok
SID_PKGS="docker.io docker-cli docker-buildx containerd runc tini-static libc6 libseccomp2"
SID_PATH="$SID_ROOT/usr/sbin:$SID_ROOT/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin"

sid_apt() {
  mkdir -p "$SID_APT/lists/partial" "$SID_APT/archives/partial" "$SID_APT/cache" "$SID_APT/preferences.d"
  [ -s "$SID_APT/sources.list" ] ||
    echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' >"$SID_APT/sources.list"
  "$@" -o "Dir::Etc::sourcelist=$SID_APT/sources.list" -o Dir::Etc::sourceparts=- \
    -o "Dir::Etc::preferencesparts=$SID_APT/preferences.d" -o "Dir::Etc::preferences=$SID_APT/preferences" \
    -o "Dir::State::lists=$SID_APT/lists" -o "Dir::Cache=$SID_APT/cache" \
    -o "Dir::Cache::archives=$SID_APT/archives" -o Dir::State::status=/var/lib/dpkg/status \
    -o APT::Sandbox::User=root
}

# Fetches (once) and unpacks the sid prefix. Reruns use the cached .debs and need no network.
sid_prefix() {
  if [ -f "$SID_STAMP" ] && [ -x "$SID_ROOT/usr/sbin/dockerd" ] && "$SID_ROOT/usr/sbin/runc" --version >/dev/null 2>&1; then
    return 0
  fi
  command -v patchelf >/dev/null || die "patchelf is missing (setup-env.sh tools patchelf installs it)"
  local p missing=""
  for p in $SID_PKGS; do ls "$SID_DEBS/${p}_"*.deb >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    log "fetching sid package lists into $SID_APT (private apt configuration)"
    sid_apt apt-get update -qq >"$OBC_TC_DIR/sid-apt-update.log" 2>&1 ||
      { tail -n 20 "$OBC_TC_DIR/sid-apt-update.log" >&2
        grep -q 'is expired' "$OBC_TC_DIR/sid-apt-update.log" &&
          log "hint: the mirror serves an old sid Release file; a frozen mirror needs Acquire::Check-Valid-Until \"false\" in /etc/apt/apt.conf.d/"
        die "cannot read Debian sid's package lists (is deb.debian.org reachable?)"; }
    log "  sid candidates: $(sid_apt apt-cache policy docker.io docker-buildx containerd runc 2>/dev/null |
      awk '/^[^ ]/{sub(":","",$1); p=$1} /Candidate:/{printf "%s %s  ", p, $2}')"
    mkdir -p "$SID_DEBS"
    log "downloading:$missing"
    # shellcheck disable=SC2086
    (cd "$SID_DEBS" && sid_apt apt-get download -qq $missing) >"$OBC_TC_DIR/sid-apt-download.log" 2>&1 ||
      { tail -n 20 "$OBC_TC_DIR/sid-apt-download.log" >&2; die "apt-get download from sid failed"; }
  fi
  log "unpacking sid packages into $SID_ROOT"
  rm -rf "$SID_ROOT.tmp" "$SID_LIBC.tmp"; mkdir -p "$SID_ROOT.tmp" "$SID_LIBC.tmp"
  for p in docker.io docker-cli docker-buildx containerd runc tini-static; do
    dpkg-deb -x "$(ls "$SID_DEBS/${p}_"*.deb | tail -n 1)" "$SID_ROOT.tmp"
  done
  for p in libc6 libseccomp2; do dpkg-deb -x "$(ls "$SID_DEBS/${p}_"*.deb | tail -n 1)" "$SID_LIBC.tmp"; done
  patchelf --set-interpreter "$SID_LIBDIR/ld-linux-x86-64.so.2" --set-rpath "$SID_LIBDIR" "$SID_ROOT.tmp/usr/sbin/runc"
  rm -rf "$SID_ROOT" "$SID_LIBC"; mv "$SID_ROOT.tmp" "$SID_ROOT"; mv "$SID_LIBC.tmp" "$SID_LIBC"
  "$SID_ROOT/usr/sbin/runc" --version >/dev/null || die "sid's runc does not run with its private glibc"
  for p in dockerd containerd docker; do
    PATH=$SID_PATH "$p" --version >/dev/null || die "sid's $p does not run on this machine"
  done
  ls "$SID_DEBS" >"$SID_STAMP"
}

# --- one sid daemon pair: tc_vars NAME sets everything that belongs to it ----------------------

tc_vars() {
  TC=$1
  case "$TC" in
    b) TC_BRIDGE=obcb0 TC_ADDR=172.30.2.1/24 TC_SNAPSHOTTER=true ;;
    c) TC_BRIDGE=obcc0 TC_ADDR=172.30.3.1/24 TC_SNAPSHOTTER=false ;;
    *) die "no sid toolchain named $TC" ;;
  esac
  TC_RUN=/run/obc-toolchains/$TC
  TC_LIB=/var/lib/obc-toolchains/$TC
  TC_CFG=/var/cache/obc-toolchains/$TC
  TC_LOGS=$OBC_TC_DIR/$TC
  TC_SOCK=$TC_RUN/docker.sock
  TC_CTRD_SOCK=$TC_RUN/containerd/containerd.sock
  TC_CTRD_TOML=$TC_CFG/containerd.toml
  TC_DAEMON_JSON=$TC_CFG/daemon.json
  TC_DOCKER_CONFIG=$TC_CFG/docker-config
  TC_DOCKERD_PID=$TC_RUN/dockerd.pid
  TC_CTRD_PID=$TC_RUN/containerd.pid
  TC_DOCKERD=$SID_ROOT/usr/sbin/dockerd
  TC_CONTAINERD=$SID_ROOT/usr/bin/containerd
}

tc_docker() { DOCKER_HOST="unix://$TC_SOCK" DOCKER_CONFIG="$TC_DOCKER_CONFIG" PATH="$SID_PATH" "$SID_ROOT/usr/bin/docker" "$@"; }
tc_docker_ok() { tc_docker info >/dev/null 2>&1; }
tc_ctrd_ok() { "$SID_ROOT/usr/bin/ctr" --address "$TC_CTRD_SOCK" version >/dev/null 2>&1; }

tc_configs() {
  mkdir -p "$TC_RUN" "$TC_LIB" "$TC_CFG" "$TC_LOGS" "$TC_DOCKER_CONFIG/cli-plugins"
  cat >"$TC_CTRD_TOML" <<TOML
# containerd for toolchain $TC (written by scripts/toolchains.sh)
version = 3
root = "$TC_LIB/containerd"
state = "$TC_RUN/containerd"
# No Kubernetes CRI and no NRI: they would share sockets and CNI dirs with other containerds.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$TC_CTRD_SOCK"

[ttrpc]
  address = "$TC_CTRD_SOCK.ttrpc"

[debug]
  address = "$TC_RUN/containerd/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$TC_LIB/opt"
TOML
  if [ "$TC_SNAPSHOTTER" = true ]; then
    echo "{\"features\":{\"containerd-snapshotter\":true},\"cgroup-parent\":\"obc-$TC\"}" >"$TC_DAEMON_JSON"
  else
    # docker.io through the test registry, as the builders' BuildKit config has it: the daemon's own
    # BuildKit and a docker-container builder then resolve busybox to the same digest, as both
    # resolve Docker Hub's on a runner.
    echo "{\"features\":{\"containerd-snapshotter\":false},\"storage-driver\":\"overlay2\",\"cgroup-parent\":\"obc-$TC\",\"registry-mirrors\":[\"http://127.0.0.1:${REGISTRY_PORT:-5000}\"]}" >"$TC_DAEMON_JSON"
  fi
  # The sid CLI finds buildx only in its plugin dirs; the user dir comes before the system's.
  ln -sfn "$SID_ROOT/usr/libexec/docker/cli-plugins/docker-buildx" "$TC_DOCKER_CONFIG/cli-plugins/docker-buildx"
}

tc_bridge() {
  ip link show "$TC_BRIDGE" >/dev/null 2>&1 || ip link add "$TC_BRIDGE" type bridge
  ip -4 addr show dev "$TC_BRIDGE" | grep -qF "inet $TC_ADDR" || ip addr add "$TC_ADDR" dev "$TC_BRIDGE"
  ip link set "$TC_BRIDGE" up
}

tc_start_containerd() {
  if pid_ours "$TC_CTRD_PID" "$TC_CONTAINERD" "$TC_CTRD_TOML" >/dev/null; then
    if wait_for 5 tc_ctrd_ok; then log "$TC: containerd is running"; return 0; fi
    log "$TC: containerd does not answer; restarting it"
  fi
  stop_pidfile "$TC containerd" "$TC_CTRD_PID" "$TC_CONTAINERD" "$TC_CTRD_TOML"
  rm_stale_socket "$TC_CTRD_SOCK"; rm_stale_socket "$TC_CTRD_SOCK.ttrpc"; rm_stale_socket "$TC_RUN/containerd/debug.sock"
  log "$TC: starting containerd"
  PATH=$SID_PATH start_bg "$TC_CTRD_PID" "$TC_CONTAINERD" "$TC_LOGS/containerd.log" --config "$TC_CTRD_TOML"
  note_started "$TC containerd" "$TC_CTRD_PID" "$TC_CONTAINERD" "$TC_CTRD_TOML"
  TC_CTRD_RESTARTED=1
  wait_up "$TC_CTRD_PID" 20 tc_ctrd_ok || { tail -n 30 "$TC_LOGS/containerd.log" >&2; die "$TC: containerd did not come up"; }
}

tc_start_dockerd() {
  if pid_ours "$TC_DOCKERD_PID" "$TC_DOCKERD" "--config-file=$TC_DAEMON_JSON" >/dev/null; then
    if [ -n "${TC_CTRD_RESTARTED:-}" ]; then
      log "$TC: containerd was restarted; restarting dockerd so that it reconnects at once"
    elif wait_for 10 tc_docker_ok; then log "$TC: dockerd is running"; return 0
    else log "$TC: dockerd does not answer; restarting it"; fi
  fi
  stop_pidfile "$TC dockerd" "$TC_DOCKERD_PID" "$TC_DOCKERD" "--config-file=$TC_DAEMON_JSON"
  rm_stale_socket "$TC_SOCK"
  log "$TC: starting dockerd"
  # dockerd writes its own pid file; start_bg's copy only serves the start-up check.
  PATH=$SID_PATH start_bg "$TC_RUN/dockerd.start.pid" "$TC_DOCKERD" "$TC_LOGS/dockerd.log" \
    "--config-file=$TC_DAEMON_JSON" "--containerd=$TC_CTRD_SOCK" \
    "--data-root=$TC_LIB/docker" "--exec-root=$TC_RUN/exec" "--pidfile=$TC_DOCKERD_PID" \
    -H "unix://$TC_SOCK" --iptables=false --ip6tables=false -b "$TC_BRIDGE"
  note_started "$TC dockerd" "$TC_DOCKERD_PID" "$TC_DOCKERD" "--config-file=$TC_DAEMON_JSON"
  wait_up "$TC_RUN/dockerd.start.pid" 60 tc_docker_ok || { tail -n 40 "$TC_LOGS/dockerd.log" >&2; die "$TC: dockerd did not come up"; }
  rm -f "$TC_RUN/dockerd.start.pid"
}

tc_stop() {
  tc_vars "$1"
  stop_pidfile "$TC dockerd" "$TC_DOCKERD_PID" "$TC_DOCKERD" "--config-file=$TC_DAEMON_JSON"
  stop_pidfile "$TC containerd" "$TC_CTRD_PID" "$TC_CONTAINERD" "$TC_CTRD_TOML"
}

# For c: the builder's BuildKit pulls from a registry, so busybox goes to the test registry and
# buildx's default BuildKit config for new builders mirrors docker.io to it.
tc_registry_setup() {
  local reg=127.0.0.1:${REGISTRY_PORT:-5000}
  mkdir -p "$TC_DOCKER_CONFIG/buildx"
  cat >"$TC_DOCKER_CONFIG/buildx/buildkitd.default.toml" <<TOML
# Default BuildKit config for builders buildx creates with DOCKER_CONFIG=$TC_DOCKER_CONFIG
# (written by scripts/toolchains.sh). docker.io is not reachable here; the test registry is.
[registry."docker.io"]
  mirrors = ["$reg"]

[registry."$reg"]
  http = true
TOML
  if curl -fs -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
       -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H 'Accept: application/vnd.oci.image.index.v1+json' \
       "http://$reg/v2/library/busybox/manifests/latest"; then
    log "$TC: $reg/library/busybox:latest present"
  else
    log "$TC: pushing busybox:latest to $reg/library/busybox:latest"
    tc_docker tag busybox:latest "$reg/library/busybox:latest"
    tc_docker push -q "$reg/library/busybox:latest" >/dev/null
    tc_docker rmi "$reg/library/busybox:latest" >/dev/null
  fi
  # The daemon's busybox:latest is the registry's, pulled through the mirror (with its digest), not
  # the imported one.
  if ! tc_docker image inspect --format '{{join .RepoDigests " "}}' busybox:latest 2>/dev/null | grep -qE '(^| )busybox@sha256:'; then
    log "$TC: pulling busybox:latest through the docker.io mirror"
    tc_docker rmi busybox:latest >/dev/null 2>&1 || true
    tc_docker pull -q busybox:latest >/dev/null
  fi
}

tc_buildkit_image() {
  local bk="$OBC_REPO/scripts/toolchains/buildkit.sh"
  if [ ! -x "$bk" ]; then
    log "$TC: $bk is not there yet; skipping the moby/buildkit:buildx-stable-1 image (docker-container builders will not start)"
    return 0
  fi
  log "$TC: making sure moby/buildkit:buildx-stable-1 is in c's daemon (buildkit.sh import)"
  DOCKER_HOST="unix://$TC_SOCK" DOCKER_CONFIG="$TC_DOCKER_CONFIG" PATH="$SID_PATH" bash "$bk" import >"$TC_LOGS/buildkit-import.log" 2>&1 ||
    { tail -n 30 "$TC_LOGS/buildkit-import.log" >&2; die "$TC: buildkit.sh import failed (log: $TC_LOGS/buildkit-import.log)"; }
}

tc_up() {
  tc_vars "$1"
  TC_CTRD_RESTARTED=
  # busybox-static, curl, patchelf (for sid's runc) and ip from bookworm, through setup-env's
  # guarded install; c also needs the registry.
  if [ "$TC" = c ]; then OBC_LOCK_HELD=1 bash "$OBC_REPO/scripts/setup-env.sh" registry patchelf iproute2
  else OBC_LOCK_HELD=1 bash "$OBC_REPO/scripts/setup-env.sh" tools patchelf iproute2; fi
  sid_prefix
  tc_configs
  tc_bridge
  tc_start_containerd
  tc_start_dockerd
  import_busybox tc_docker
  if [ "$TC" = c ]; then
    tc_registry_setup
    tc_buildkit_image
    emulation_setup tc_docker
  fi
  local ver bx store desc
  ver=$(tc_docker version --format '{{.Server.Version}}')
  bx=$(tc_docker buildx version | awk '{print $2}')
  case "$bx" in 0.13*) die "$TC: the docker CLI picked the system buildx ($bx), not the prefix's";; esac
  store=$(tc_docker info --format '{{.Driver}}')
  if [ "$TC" = b ]; then
    desc="docker $ver / buildx $bx / containerd store / docker driver"
  else
    desc="docker $ver / buildx $bx / classic store / docker-container driver"
  fi
  write_env "$TC" "OBC_TOOLCHAIN=$TC" "DOCKER_HOST=unix://$TC_SOCK" "DOCKER_CONFIG=$TC_DOCKER_CONFIG" \
    "OBC_PATH_PREPEND=$SID_ROOT/usr/bin" "OBC_TOOLCHAIN_DESC=$desc"
  echo "$TC: docker $ver (client $(tc_docker version --format '{{.Client.Version}}')), buildx $bx, storage driver $store, containerd $("$TC_CONTAINERD" --version | awk '{print $3}'), runc $("$SID_ROOT/usr/sbin/runc" --version | awk 'NR==1{print $3}') [unix://$TC_SOCK]" >"$TC_LOGS/summary"
}
