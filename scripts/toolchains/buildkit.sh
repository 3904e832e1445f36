#!/usr/bin/env bash
# BuildKit v0.13.2 for the end-to-end tests, built offline from Debian packages.
#
#   buildkit.sh build    build buildkitd + buildctl once per machine (cached), print the version
#   buildkit.sh import   make sure $DOCKER_HOST has moby/buildkit:buildx-stable-1 (for buildx's
#                        docker-container driver, which cannot pull it here)
#   buildkit.sh remote   start (idempotently) a host buildkitd for buildx's remote driver and
#                        write /var/tmp/oneshot-build-env/toolchains/d.env
#   buildkit.sh stop     stop that host buildkitd (only the pid in its pid file, after checking
#                        that it is our binary)
#
# Sources: BuildKit comes from Debian trixie's docker.io source package (orig-buildkit tarball,
# with Debian's patches); Go and the Go libraries Debian strips from its vendor/ come from trixie's
# golang-* packages; runc and busybox from bookworm. Everything is fetched with a private apt
# configuration (the system's sources and lists are never touched) and kept under $BK_CACHE, so
# later runs take seconds and need no network.
set -euo pipefail

BK_VERSION=v0.13.2
BK_CACHE=${BK_CACHE:-/var/cache/obc-toolchains/buildkit-$BK_VERSION}
BK_IMAGE=moby/buildkit:buildx-stable-1

D_NAME=d
D_STATE=/var/lib/obc-toolchains/$D_NAME
D_RUN=/run/obc-toolchains/$D_NAME
D_SOCK=$D_RUN/buildkitd.sock
D_PID=$D_RUN/buildkitd.pid
D_LOGDIR=/var/tmp/oneshot-build-env/toolchains/$D_NAME
D_LOG=$D_LOGDIR/buildkitd.log
D_ENV=/var/tmp/oneshot-build-env/toolchains/$D_NAME.env
D_CONFIG=$D_STATE/buildkitd.toml
D_REGISTRY=${OBC_TEST_REGISTRY:-127.0.0.1:5000}

APTDIR=$BK_CACHE/apt
SRCDIR=$BK_CACHE/src
DEBDIR=$BK_CACHE/debs
WORK=$BK_CACHE/work
BIN=$BK_CACHE/bin
RUNC_DIR=$BK_CACHE/runc
ROOTFS_TAR=$BK_CACHE/rootfs.tar
GOROOT_DIR=$WORK/go/usr/lib/go-1.24

log() { printf '[buildkit.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- private apt ---------------------------------------------------------------------------

apt_opts() {
  printf '%s\n' \
    -o "Dir::Etc::sourcelist=$APTDIR/sources.list" \
    -o "Dir::Etc::sourceparts=-" \
    -o "Dir::State::lists=$APTDIR/lists" \
    -o "Dir::Cache::archives=$APTDIR/archives" \
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" \
    -o "Dir::State::status=$APTDIR/empty-status" \
    -o "APT::Default-Release=trixie" \
    -o "APT::Sandbox::User=root" \
    -o "Debug::NoLocking=1" \
    -o "Acquire::Retries=3"
}

papt() { # papt <apt-get|apt-cache> args...: run apt with the private configuration
  local tool=$1; shift
  local -a o; mapfile -t o < <(apt_opts)
  "$tool" "${o[@]}" "$@"
}

apt_setup() {
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial"
  : > "$APTDIR/empty-status"
  local k=/usr/share/keyrings/debian-archive-keyring.gpg
  cat > "$APTDIR/sources.list" <<EOF
deb [signed-by=$k] http://deb.debian.org/debian trixie main
deb-src [signed-by=$k] http://deb.debian.org/debian trixie main
deb [signed-by=$k] http://deb.debian.org/debian bookworm main
EOF
  if [ ! -f "$APTDIR/.updated" ]; then
    log "apt-get update (private lists in $APTDIR)"
    papt apt-get -q update >&2
    touch "$APTDIR/.updated"
  fi
}

apt_refresh() { rm -f "$APTDIR/.updated"; apt_setup; }

# dl <dir> pkg...: apt-get download into dir (retries once after refreshing the lists)
dl() {
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && papt apt-get -q download "$@" >&2) && return 0
  log "download failed; refreshing the private package lists and retrying"
  apt_refresh
  (cd "$dir" && papt apt-get -q download "$@" >&2)
}

# Host tools a minimal bookworm may lack (patch, xz): fetched from bookworm into $BK_CACHE/tools.
ensure_tool() { # ensure_tool <command> <bookworm package>
  command -v "$1" >/dev/null 2>&1 && return 0
  local t=$BK_CACHE/tools
  if [ ! -x "$t/usr/bin/$1" ]; then
    apt_setup
    dl "$DEBDIR/tools" "$2/bookworm"
    for f in "$DEBDIR"/tools/"$2"_*.deb; do dpkg-deb -x "$f" "$t"; done
  fi
  export PATH="$t/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$t/usr/lib/x86_64-linux-gnu:$t/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  command -v "$1" >/dev/null 2>&1 || die "could not provide $1"
}

# --- build ---------------------------------------------------------------------------------

fetch_sources() {
  mkdir -p "$SRCDIR"
  if ! ls "$SRCDIR"/docker.io_*.orig-buildkit.tar.xz >/dev/null 2>&1 \
     || ! ls "$SRCDIR"/docker.io_*.debian.tar.xz >/dev/null 2>&1 \
     || ! ls "$SRCDIR"/docker.io_*.orig-cli.tar.xz >/dev/null 2>&1 \
     || ! ls "$SRCDIR"/docker.io_*.orig.tar.xz >/dev/null 2>&1; then
    apt_setup
    log "fetching trixie's docker.io source package"
    # The .dsc itself may be missing on the mirror; the tarballs are what we need.
    (cd "$SRCDIR" && papt apt-get -q source --download-only docker.io/trixie >&2) || true
    ls "$SRCDIR"/docker.io_*.orig-buildkit.tar.xz >/dev/null 2>&1 || {
      apt_refresh
      (cd "$SRCDIR" && papt apt-get -q source --download-only docker.io/trixie >&2) || true
    }
  fi
  for f in orig-buildkit.tar.xz orig-cli.tar.xz orig.tar.xz debian.tar.xz; do
    ls "$SRCDIR"/docker.io_*."$f" >/dev/null 2>&1 || die "docker.io source: no *.$f in $SRCDIR"
  done
}

fetch_go_debs() {
  if [ ! -f "$DEBDIR/go/.done" ]; then
    apt_setup
    rm -rf "$DEBDIR/go"
    dl "$DEBDIR/go" golang-1.24-go/trixie golang-1.24-src/trixie
    touch "$DEBDIR/go/.done"
  fi
  if [ ! -f "$DEBDIR/dev/.done" ]; then
    apt_setup
    local ddir=$SRCDIR/debian
    rm -rf "$ddir"; mkdir -p "$ddir"
    tar xJf "$(ls "$SRCDIR"/docker.io_*.debian.tar.xz | head -1)" -C "$ddir"
    # golang-*-dev Build-Depends of docker.io, then their closure (resolved against an empty
    # dpkg status, so nothing on this machine matters and nothing is installed).
    awk '/^Build-Depends/,/^Homepage/' "$ddir/debian/control" | grep -v '^#' | tr ',|' '\n\n' \
      | sed 's/(.*//; s/^ *//; s/ *$//' | grep -E '^golang-.*-dev$' | sort -u > "$SRCDIR/bdeps.txt"
    log "resolving $(wc -l < "$SRCDIR/bdeps.txt") golang-*-dev build dependencies"
    papt apt-get -q -s --no-install-recommends install $(cat "$SRCDIR/bdeps.txt") > "$SRCDIR/sim.txt" 2>&1 \
      || { cat "$SRCDIR/sim.txt" >&2; die "resolving the Go build dependencies failed"; }
    awk '$1 == "Inst" && $2 ~ /^golang-.*-dev$/ { v = $3; gsub(/[()]/, "", v); print $2 "=" v }' \
      "$SRCDIR/sim.txt" > "$SRCDIR/closure.txt"
    log "downloading $(wc -l < "$SRCDIR/closure.txt") golang-*-dev packages"
    rm -rf "$DEBDIR/dev"
    dl "$DEBDIR/dev" $(cat "$SRCDIR/closure.txt")
    touch "$DEBDIR/dev/.done"
  fi
}

prepare_tree() {
  [ -f "$WORK/.tree-done" ] && return 0
  ensure_tool xz xz-utils
  ensure_tool patch patch
  log "preparing GOROOT and GOPATH in $WORK"
  rm -rf "$WORK"
  mkdir -p "$WORK/go" "$WORK/deb" "$WORK/gopath/src/github.com/docker" "$WORK/gopath/src/github.com/moby" "$WORK/tree"
  local f
  for f in "$DEBDIR"/go/*.deb; do dpkg-deb -x "$f" "$WORK/go"; done
  for f in "$DEBDIR"/dev/*.deb; do dpkg-deb -x "$f" "$WORK/deb"; done
  mv "$WORK/deb/usr/share/gocode/src/"* "$WORK/gopath/src/" 2>/dev/null || cp -a "$WORK/deb/usr/share/gocode/src/." "$WORK/gopath/src/"
  rm -rf "$WORK/deb"
  # The three upstream trees, laid out the way Debian's build does (engine tarball has an extra
  # top-level directory).
  local t=$WORK/tree
  mkdir -p "$t/engine" "$t/cli" "$t/buildkit"
  tar xJf "$(ls "$SRCDIR"/docker.io_*.orig.tar.xz | head -1)" -C "$t/engine" --strip-components=3
  tar xJf "$(ls "$SRCDIR"/docker.io_*.orig-cli.tar.xz | head -1)" -C "$t/cli" --strip-components=2
  tar xJf "$(ls "$SRCDIR"/docker.io_*.orig-buildkit.tar.xz | head -1)" -C "$t/buildkit" --strip-components=2
  [ -f "$t/buildkit/cmd/buildkitd/main.go" ] || die "unexpected layout of the buildkit tarball"
  [ -d "$t/engine/api" ] || die "unexpected layout of the engine tarball"
  rm -rf "$SRCDIR/debian"; mkdir -p "$SRCDIR/debian"
  tar xJf "$(ls "$SRCDIR"/docker.io_*.debian.tar.xz | head -1)" -C "$SRCDIR/debian"
  local p pd=$SRCDIR/debian/debian/patches
  while read -r p; do
    case $p in ''|'#'*) continue ;; esac
    if patch -d "$t" -p1 -s -N --dry-run < "$pd/$p" >/dev/null 2>&1; then
      patch -d "$t" -p1 -s -N < "$pd/$p" >/dev/null
    else
      case $p in buildkit-*|grpc-*) die "Debian patch $p does not apply" ;; esac
      log "warning: Debian patch $p does not apply (not a buildkit patch; ignored)"
    fi
  done < "$pd/series"
  local g=$WORK/gopath/src/github.com
  rm -rf "$g/docker/docker" "$g/docker/cli" "$g/moby/buildkit"
  mv "$t/engine" "$g/docker/docker"
  mv "$t/cli" "$g/docker/cli"
  mv "$t/buildkit" "$g/moby/buildkit"
  rm -rf "$t"
  touch "$WORK/.tree-done"
}

go_env() {
  export GOROOT=$GOROOT_DIR GOPATH=$WORK/gopath GOCACHE=$WORK/gocache
  export GO111MODULE=off CGO_ENABLED=0 GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
  export PATH=$GOROOT_DIR/bin:$PATH
}

bins_ok() {
  [ -x "$BIN/buildkitd" ] && [ -x "$BIN/buildctl" ] \
    && "$BIN/buildkitd" --version 2>/dev/null | grep -q " $BK_VERSION" \
    && "$BIN/buildctl" --version 2>/dev/null | grep -q " $BK_VERSION"
}

do_build() {
  mkdir -p "$BK_CACHE"
  exec 9>"$BK_CACHE/.build.lock"
  flock 9
  if ! bins_ok; then
    local t0=$SECONDS
    fetch_sources
    fetch_go_debs
    prepare_tree
    go_env
    local deb rev
    deb=$(basename "$(ls "$SRCDIR"/docker.io_*.debian.tar.xz | head -1)" .debian.tar.xz)
    rev="debian-${deb#docker.io_}"
    local ld="-s -w -X github.com/moby/buildkit/version.Version=$BK_VERSION -X github.com/moby/buildkit/version.Revision=$rev -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
    mkdir -p "$BIN.new"
    log "go build buildctl, buildkitd ($(go version))"
    (cd "$WORK/gopath/src/github.com/moby/buildkit" \
      && go build -trimpath -ldflags "$ld" -o "$BIN.new/buildctl" ./cmd/buildctl \
      && go build -trimpath -ldflags "$ld" -o "$BIN.new/buildkitd" ./cmd/buildkitd) >&2
    mkdir -p "$BIN"
    mv -f "$BIN.new/buildctl" "$BIN.new/buildkitd" "$BIN/"
    rmdir "$BIN.new"
    bins_ok || die "built binaries do not report $BK_VERSION"
    log "built in $((SECONDS - t0)) s"
  fi
  flock -u 9
  "$BIN/buildkitd" --version
}

# --- runc / busybox / image ------------------------------------------------------------------

# bookworm's runc (runs on a bookworm host; the image gets the host libraries ldd lists).
ensure_runc() {
  [ -x "$RUNC_DIR/bin/runc" ] && [ -f "$RUNC_DIR/.done" ] && return 0
  apt_setup
  rm -rf "$DEBDIR/runc" "$RUNC_DIR"
  dl "$DEBDIR/runc" runc/bookworm libseccomp2/bookworm busybox-static/bookworm
  mkdir -p "$RUNC_DIR/x" "$RUNC_DIR/bin" "$RUNC_DIR/lib"
  local f
  for f in "$DEBDIR"/runc/*.deb; do dpkg-deb -x "$f" "$RUNC_DIR/x"; done
  cp "$RUNC_DIR/x/usr/sbin/runc" "$RUNC_DIR/bin/runc.real"
  cp "$RUNC_DIR/x/bin/busybox" "$RUNC_DIR/busybox"
  cp -a "$RUNC_DIR"/x/usr/lib/x86_64-linux-gnu/libseccomp.so.2* "$RUNC_DIR/lib/" 2>/dev/null \
    || cp -a "$RUNC_DIR"/x/lib/x86_64-linux-gnu/libseccomp.so.2* "$RUNC_DIR/lib/"
  rm -rf "$RUNC_DIR/x"
  # A wrapper so the host daemon finds libseccomp even where libseccomp2 is not installed.
  cat > "$RUNC_DIR/bin/runc" <<EOF
#!/bin/sh
LD_LIBRARY_PATH=$RUNC_DIR/lib exec $RUNC_DIR/bin/runc.real "\$@"
EOF
  chmod +x "$RUNC_DIR/bin/runc"
  "$RUNC_DIR/bin/runc" --version >&2 || die "runc does not run"
  touch "$RUNC_DIR/.done"
}

build_rootfs() {
  [ -f "$ROOTFS_TAR" ] && [ "$ROOTFS_TAR" -nt "$BIN/buildkitd" ] && [ "$ROOTFS_TAR" -nt "$BIN/buildctl" ] && return 0
  ensure_runc
  local r=$BK_CACHE/rootfs.tmp
  rm -rf "$r"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/buildkit,tmp,var/lib/buildkit,run,proc,sys,dev,root}
  chmod 1777 "$r/tmp"
  cp "$BIN/buildkitd" "$BIN/buildctl" "$r/usr/bin/"
  cp "$RUNC_DIR/bin/runc.real" "$r/usr/bin/runc"
  cp "$RUNC_DIR/busybox" "$r/bin/busybox"
  local a
  for a in $("$r/bin/busybox" --list-full); do
    [ -e "$r/$a" ] || [ -L "$r/$a" ] || ln -s /bin/busybox "$r/$a"
  done
  [ -e "$r/bin/sh" ] || ln -s busybox "$r/bin/sh"
  # Libraries runc needs (and the dynamic loader), at the paths ldd reports.
  local lib
  local dest
  for lib in $(LD_LIBRARY_PATH=$RUNC_DIR/lib ldd "$RUNC_DIR/bin/runc.real" | grep -o '/[^ ]*'); do
    case $lib in
      "$RUNC_DIR"/*) dest=/usr/lib/x86_64-linux-gnu/${lib##*/} ;;
      *) dest=$lib ;;
    esac
    mkdir -p "$r$(dirname "$dest")"
    cp -L "$lib" "$r$dest"
  done
  # usrmerge-style links for the loader path, whichever side ldd named.
  [ -e "$r/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$r/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"; }
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$r/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  fi
  chroot "$r" /usr/bin/runc --version >/dev/null || die "runc does not run inside the rootfs"
  tar -C "$r" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$r"
}

do_import() {
  command -v docker >/dev/null 2>&1 || die "docker CLI not found"
  if docker image inspect "$BK_IMAGE" >/dev/null 2>&1; then
    log "$BK_IMAGE already present on ${DOCKER_HOST:-the default daemon}"
    return 0
  fi
  do_build >/dev/null
  exec 9>"$BK_CACHE/.build.lock"
  flock 9
  build_rootfs
  flock -u 9
  log "docker import $BK_IMAGE"
  docker import \
    --change 'ENTRYPOINT ["buildkitd"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'VOLUME /var/lib/buildkit' \
    --change 'WORKDIR /' \
    --change "LABEL org.opencontainers.image.version=$BK_VERSION" \
    "$ROOTFS_TAR" "$BK_IMAGE" >&2
  docker image inspect "$BK_IMAGE" --format '{{.Id}}'
}

# --- host daemon for the remote driver -------------------------------------------------------

# Prints the pid from the pid file when it is alive and is our buildkitd; otherwise removes the
# stale pid file and socket and prints nothing.
running_pid() {
  local pid exe
  [ -f "$D_PID" ] || { stale_cleanup; return 0; }
  pid=$(tr -dc '0-9' < "$D_PID")
  if [ -n "$pid" ] && [ -e "/proc/$pid/exe" ]; then
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    exe=${exe% (deleted)}
    if [ "$exe" = "$(readlink -f "$BIN/buildkitd")" ]; then
      echo "$pid"; return 0
    fi
  fi
  stale_cleanup
}

stale_cleanup() {
  rm -f "$D_PID"
  # Only remove the socket if no live buildkitd of ours owns it (pid file gone or stale).
  [ -S "$D_SOCK" ] && rm -f "$D_SOCK"
  return 0
}

write_config() {
  mkdir -p "$D_STATE"
  cat > "$D_CONFIG" <<EOF
# Written by scripts/toolchains/buildkit.sh (toolchain $D_NAME, remote driver).
root = "$D_STATE/buildkit"

[grpc]
  address = ["unix://$D_SOCK"]

[worker.oci]
  enabled = true
  binary = "$RUNC_DIR/bin/runc"

[worker.containerd]
  enabled = false

[registry."docker.io"]
  mirrors = ["$D_REGISTRY"]

[registry."$D_REGISTRY"]
  http = true
EOF
}

write_env() {
  mkdir -p "$(dirname "$D_ENV")"
  cat > "$D_ENV.tmp" <<EOF
OBC_TOOLCHAIN=$D_NAME
DOCKER_HOST=unix:///var/run/docker.sock
OBC_REMOTE_ENDPOINT=unix://$D_SOCK
OBC_TOOLCHAIN_DESC=remote driver / BuildKit $BK_VERSION
EOF
  mv "$D_ENV.tmp" "$D_ENV"
}

daemon_answers() {
  timeout 10 "$BIN/buildctl" --addr "unix://$D_SOCK" debug workers >/dev/null 2>&1
}

do_remote() {
  do_build >/dev/null
  ensure_runc
  local pid
  pid=$(running_pid)
  if [ -n "$pid" ] && daemon_answers; then
    log "buildkitd ($D_NAME) already running, pid $pid"
    write_env
    return 0
  fi
  [ -n "$pid" ] && do_stop
  write_config
  mkdir -p "$D_RUN" "$D_LOGDIR" "$D_STATE/buildkit"
  log "starting buildkitd ($D_NAME) on unix://$D_SOCK, log $D_LOG"
  (
    export PATH="$RUNC_DIR/bin:$BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    cd /
    exec 8>&- 9>&-   # the daemon must not keep this script's locks
    exec setsid "$BIN/buildkitd" \
      --config "$D_CONFIG" \
      --root "$D_STATE/buildkit" \
      --addr "unix://$D_SOCK" \
      --oci-worker=true --oci-worker-binary="$RUNC_DIR/bin/runc" \
      --containerd-worker=false \
      </dev/null >>"$D_LOG" 2>&1
  ) &
  pid=$!
  echo "$pid" > "$D_PID"
  local i
  for i in $(seq 1 120); do
    if daemon_answers; then
      write_env
      log "buildkitd ($D_NAME) ready, pid $pid"
      "$BIN/buildctl" --addr "unix://$D_SOCK" debug workers >&2 || true
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -30 "$D_LOG" >&2; rm -f "$D_PID"; die "buildkitd exited"; }
    sleep 0.5
  done
  tail -30 "$D_LOG" >&2
  die "buildkitd did not answer on $D_SOCK within 60 s"
}

do_stop() {
  local pid i
  pid=$(running_pid)
  if [ -z "$pid" ]; then
    log "buildkitd ($D_NAME) not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 40); do
    [ -e "/proc/$pid" ] || break
    sleep 0.25
  done
  if [ -e "/proc/$pid" ]; then
    log "buildkitd ($D_NAME) ignored TERM; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$D_PID" "$D_SOCK"
  log "buildkitd ($D_NAME) stopped"
}

daemon_lock() { # one remote/stop at a time
  mkdir -p "$D_RUN"
  exec 8>"$D_RUN/.lock"
  flock 8
}

case ${1:-} in
  build) do_build ;;
  import) do_import ;;
  remote) daemon_lock; do_remote ;;
  stop) daemon_lock; do_stop ;;
  *) echo "usage: $0 build|import|remote|stop" >&2; exit 2 ;;
esac
