# Shared helpers for scripts/setup-env.sh and scripts/toolchains.sh. Source it; do not run it.
# Everything here acts only on processes whose pid files these scripts wrote, and only after
# checking that the pid is alive and runs the expected binary with the expected arguments.

OBC_STATE_DIR="${SETUP_ENV_STATE:-/var/tmp/oneshot-build-env}"
OBC_TC_DIR="$OBC_STATE_DIR/toolchains"
OBC_LOCK="${OBC_LOCK:-/var/lock/obc-toolchains.lock}"

log() { printf '[%s %s] %s\n' "${OBC_LOG_TAG:-toolchains}" "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Holds one lock for the whole of an up/down, so two callers never start the same daemon twice.
# Nested calls (toolchains.sh -> setup-env.sh) inherit it through OBC_LOCK_HELD.
obc_lock() {
  [ -n "${OBC_LOCK_HELD:-}" ] && return 0
  mkdir -p "$(dirname "$OBC_LOCK")"
  exec 9>"$OBC_LOCK"
  if ! flock -n 9; then
    log "waiting for another set-up run to finish ($OBC_LOCK)"
    flock 9
  fi
  export OBC_LOCK_HELD=1
}

# pid_ours PIDFILE EXE [MARKER]: prints the pid and succeeds when the file names a live process
# whose /proc/PID/exe is EXE and whose command line contains MARKER. Anything else is stale.
pid_ours() {
  local file=$1 exe=$2 marker=${3:-} pid real want state
  [ -s "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file" 2>/dev/null || true)
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  real=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  real=${real% (deleted)}
  want=$(readlink -f "$exe" 2>/dev/null || echo "$exe")
  [ "$real" = "$want" ] || [ "$real" = "$exe" ] || return 1
  state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ "$state" != Z ] || return 1
  if [ -n "$marker" ]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$marker" || return 1
  fi
  echo "$pid"
}

# stop_pidfile NAME PIDFILE EXE [MARKER]: TERM (then KILL after 20 s) the process if it is ours;
# removes the pid file either way.
stop_pidfile() {
  local name=$1 file=$2 exe=$3 marker=${4:-} pid
  if pid=$(pid_ours "$file" "$exe" "$marker"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then log "$name did not stop in 20 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  elif [ -e "$file" ]; then
    log "removing stale pid file $file"
  fi
  rm -f "$file"
}

# start_bg PIDFILE EXE LOG ARGS...: starts EXE in its own session, detached, and records its pid.
start_bg() {
  local file=$1 exe=$2 logf=$3; shift 3
  mkdir -p "$(dirname "$file")" "$(dirname "$logf")"
  # Close every inherited descriptor above 2 (the lock, a caller's pipes), so a daemon never keeps
  # this script's lock or a test runner's output pipe open.
  (
    for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
    exec setsid nohup "$exe" "$@" >>"$logf" 2>&1 </dev/null
  ) &
  local pid=$!
  echo "$pid" >"$file"
  # setsid execs in place when the caller is not a group leader; confirm the pid is the daemon.
  for _ in $(seq 50); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$exe")" ] && return 0
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  log "$exe did not start; its log:"; tail -n 30 "$logf" >&2 || true
  return 1
}

# note_started NAME PIDFILE EXE [MARKER]: records a daemon this run started, so that a failed
# `toolchains.sh up` can stop exactly those again (OBC_STARTED_FILE is set by toolchains.sh).
note_started() {
  [ -n "${OBC_STARTED_FILE:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$OBC_STARTED_FILE"
}

# Removes a unix socket only when no live process of ours could be serving it (caller checked).
rm_stale_socket() { [ -S "$1" ] || [ -e "$1" ] && { log "removing stale socket $1"; rm -f "$1"; }; return 0; }

# wait_up PIDFILE SECONDS CMD...: like wait_for, but gives up as soon as the pid in PIDFILE exits.
wait_up() {
  local pid; pid=$(tr -dc '0-9' <"$1" 2>/dev/null || true); shift
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -z "$pid" ] || [ ! -d "/proc/$pid" ] || [ "$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]; then
      log "the process (pid ${pid:-?}) exited during start-up"; return 1
    fi
    sleep 0.2
  done
  "$@" >/dev/null 2>&1
}

wait_for() { # wait_for SECONDS CMD...: polls CMD every 0.2 s
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  "$@" >/dev/null 2>&1
}

# apt_install_guarded "ALLOWED_UPGRADES" PKG...: simulates first and refuses when the install
# would remove anything; touch apt, dpkg, libc, python3, perl-base, base-files, openssh, libssl,
# systemd; or upgrade a package outside ALLOWED_UPGRADES to another release's version (a
# dependency raised to a newer build of the machine's own release, such as a security update of
# a library, is allowed and printed). Prints everything it installs or upgrades.
# PKG may name a release: docker.io/trixie.
apt_install_guarded() {
  local allowed=" $1 " sim bad=0 line name old rel; shift
  [ $# -gt 0 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  if ! sim=$(apt-get install -s --no-install-recommends "$@" 2>&1); then
    printf '%s\n' "$sim" | tail -n 20 >&2
    die "apt cannot install $* without conflicts (simulation failed); nothing was changed"
  fi
  while IFS= read -r line; do
    case "$line" in
      Remv\ *)
        log "refusing: the install would remove ${line#Remv }"; bad=1 ;;
      Inst\ *)
        name=$(echo "$line" | cut -d' ' -f2)
        old=$(echo "$line" | sed -n 's/^Inst [^ ]* \[\([^]]*\)\].*/\1/p')
        rel=$(echo "$line" | sed -n 's/^Inst [^(]*(\([^)]*\)).*/\1/p')
        case "$name" in
          apt|apt-utils|libapt-pkg*|dpkg|libc6|libc6:*|libc-bin|libc-dev-bin|python3|python3*|perl-base|base-files|libssl3*|openssh-*|init-system-helpers|systemd*|libsystemd0*)
            # Newly installed from the machine's own release is fine (a minimal system may lack
            # libssl3); upgraded, or taken from another release, is not.
            if [ -n "$old" ] || is_other_release "$rel"; then
              log "refusing: the install would touch $name (${old:-not installed} -> $rel)"; bad=1; continue
            fi ;;
        esac
        if [ -n "$old" ] && [ "${allowed/ $name /}" = "$allowed" ]; then
          # A dependency may be raised to a newer build from the machine's own release (a
          # security or point update of the same library), never to another release's.
          if is_other_release "$rel"; then
            log "refusing: the install would upgrade unrelated package $name to another release ($old -> $rel)"; bad=1
          else
            log "  will upgrade (same release): $name $old -> $rel"
          fi
        else
          log "  will install: $name ${old:+$old -> }$rel"
        fi ;;
    esac
  done <<<"$sim"
  [ "$bad" = 0 ] || die "the simulated 'apt-get install $*' changes more than it should; nothing was changed. Install by hand or fix the machine's apt state."
  [ -z "${OBC_APT_DRY_RUN:-}" ] || { log "dry run: not installing"; return 0; }
  local had_policy=1
  [ -e /usr/sbin/policy-rc.d ] || { had_policy=0; printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  local rc=0
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold "$@" >"$OBC_STATE_DIR/apt-install.log" 2>&1 || rc=$?
  [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
  if [ "$rc" != 0 ]; then tail -n 30 "$OBC_STATE_DIR/apt-install.log" >&2; die "apt-get install $* failed"; fi
}

# Whether an `apt-get -s` version/origin string, "1.2-3 Debian:13.8/stable [amd64]", is from a
# release other than the machine's own Debian 12 (or Ubuntu) archive.
is_other_release() {
  case "$1" in
    *Debian:1[3-9]*|*Debian:unstable*|*Debian:testing*|*trixie*|*sid*|*forky*) return 0 ;;
    *) return 1 ;;
  esac
}

pkg_installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# Once per machine: a root file system tarball from the static busybox, for `docker import`.
busybox_rootfs_tar() {
  local tar="$OBC_STATE_DIR/busybox-rootfs.tar"
  if [ ! -s "$tar" ] || [ /bin/busybox -nt "$tar" ]; then
    ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked; the base image needs busybox-static"
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/var" "$root/dev" "$root/proc" "$root/sys"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for app in $("$root/bin/busybox" --list); do [ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  echo "$tar"
}

# import_busybox DOCKER-CMD...: imports busybox:latest into that daemon unless present.
import_busybox() {
  if "$@" image inspect busybox:latest >/dev/null 2>&1; then log "base image busybox:latest present"; return 0; fi
  log "importing offline base image busybox:latest"
  local tar; tar=$(busybox_rootfs_tar)
  "$@" import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - busybox:latest <"$tar" >/dev/null
}

# write_env NAME KEY=VALUE...: the plain env file the tests read.
write_env() {
  local name=$1; shift
  mkdir -p "$OBC_TC_DIR"
  printf '%s\n' "$@" >"$OBC_TC_DIR/$name.env.tmp"
  mv "$OBC_TC_DIR/$name.env.tmp" "$OBC_TC_DIR/$name.env"
}
