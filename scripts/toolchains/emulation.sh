# Emulation for the multi-platform end-to-end tests. Source it; do not run it.
# Everything is made offline from Debian bookworm's packages and is idempotent:
#   - binfmt_misc mounted at /proc/sys/fs/binfmt_misc (lost at a reboot, so checked every time);
#   - Debian's qemu-user-static and busybox-static:arm64, downloaded (not installed: installing
#     qemu-user-static would register handlers on the host, and the tests need the action to do it);
#   - 127.0.0.1:5000/obc/binfmt:qemu, a stand-in for tonistiigi/binfmt: the same `--install
#     ARCH,...` command line, registering Debian's handlers (flags OPF) for what is not registered;
#   - 127.0.0.1:5000/obc/busybox:multi, an index of busybox for linux/amd64 and linux/arm64 to use
#     in FROM.
# The handlers themselves are not registered here: the action under test registers them.

OBC_EMU_DIR="$OBC_STATE_DIR/emulation"
OBC_EMU_REG="127.0.0.1:${REGISTRY_PORT:-5000}"
# Architectures the stand-in carries (GOARCH name:qemu name).
OBC_EMU_ARCHES="arm64:aarch64 arm:arm riscv64:riscv64 ppc64le:ppc64le s390x:s390x mips64le:mips64el"

emu_binfmt_mount() {
  if [ -e /proc/sys/fs/binfmt_misc/register ]; then return 0; fi
  log "mounting binfmt_misc at /proc/sys/fs/binfmt_misc"
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
}

emu_manifest_present() { # emu_manifest_present REPO:TAG
  curl -fs -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$OBC_EMU_REG/v2/${1%%:*}/manifests/${1##*:}"
}

# Downloads PKG (e.g. busybox-static:arm64) once and extracts it under $OBC_EMU_DIR/NAME.
emu_extract() {
  local pkg=$1 name=$2 deb
  [ -f "$OBC_EMU_DIR/$name/.done" ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx arm64 && [ "${pkg#*:}" = arm64 ]; then
    log "adding the arm64 package architecture (for busybox-static:arm64)"
    dpkg --add-architecture arm64
    APT_UPDATED=
  fi
  mkdir -p "$OBC_EMU_DIR/deb"
  deb=$(ls "$OBC_EMU_DIR/deb/${pkg%%:*}_"*"_${pkg#*:}.deb" 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    if [ -z "${APT_UPDATED:-}" ]; then
      log "apt-get update (for $pkg)"
      apt-get update -qq >"$OBC_STATE_DIR/apt-update.log" 2>&1 || { tail -n 20 "$OBC_STATE_DIR/apt-update.log" >&2; die "apt-get update failed"; }
      APT_UPDATED=1
    fi
    log "downloading $pkg (bookworm)"
    (cd "$OBC_EMU_DIR/deb" && apt-get download -qq -o APT::Sandbox::User=root "$pkg/bookworm") || die "apt-get download $pkg failed"
    deb=$(ls "$OBC_EMU_DIR/deb/${pkg%%:*}_"*"_${pkg#*:}.deb" | head -n1)
  fi
  rm -rf "$OBC_EMU_DIR/$name"
  mkdir -p "$OBC_EMU_DIR/$name"
  dpkg-deb -x "$deb" "$OBC_EMU_DIR/$name"
  touch "$OBC_EMU_DIR/$name/.done"
}

# A busybox root file system in DIR from the busybox binary BIN (applet names from the host's own
# busybox: an arm64 binary cannot run here before emulation is set up).
emu_busybox_root() {
  local dir=$1 bin=$2 app
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc" "$dir/root" "$dir/dev" "$dir/proc" "$dir/sys"
  chmod 1777 "$dir/tmp"
  cp "$bin" "$dir/bin/busybox"
  for app in $(/bin/busybox --list); do [ "$app" = busybox ] || ln -sf busybox "$dir/bin/$app"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
  echo 'root:x:0:' >"$dir/etc/group"
}

# The stand-in installer's entry point (busybox sh).
emu_installer_script() {
  cat <<'SH'
#!/bin/sh
# Stand-in for tonistiigi/binfmt (oneshot-build's tests): `--install ARCH[,ARCH...]` or `--install
# all` registers the QEMU handlers Debian's qemu-user-static ships (flags OPF) for each
# architecture that has none yet; the native one is never registered. Needs --privileged.
set -e
BINFMT=/proc/sys/fs/binfmt_misc
[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"
qemu_name() {
  case "$1" in
    arm64|aarch64) echo aarch64 ;; arm|arm/*) echo arm ;; riscv64) echo riscv64 ;; ppc64le) echo ppc64le ;;
    s390x) echo s390x ;; mips64le) echo mips64el ;; *) return 1 ;;
  esac
}
native=$(uname -m)
if [ "$1" != --install ] || [ -z "$2" ]; then echo "usage: binfmt --install ARCH[,ARCH...]|all" >&2; exit 2; fi
list=$2
[ "$list" = all ] && list=$(ls /usr/share/binfmt | sed 's/^qemu-//; s/\.conf$//' | tr '\n' ',')
for a in $(echo "$list" | tr ',' ' '); do
  q=$(qemu_name "$a") || { echo "installing: $a: unsupported architecture" >&2; exit 1; }
  [ "$q" = "$native" ] && { echo "installing: $a: native, skipped"; continue; }
  if [ -e "$BINFMT/qemu-$q" ]; then echo "installing: $a: already registered"; continue; fi
  cat "/usr/share/binfmt/qemu-$q.conf" >"$BINFMT/register"
  echo "installing: $a OK"
done
printf '{"emulators":['
sep=
for f in "$BINFMT"/qemu-*; do [ -e "$f" ] || continue; printf '%s"%s"' "$sep" "${f##*/}"; sep=,; done
printf ']}\n'
SH
}

emu_standin_image() {
  local ref="obc/binfmt:qemu"
  if emu_manifest_present "$ref"; then log "$OBC_EMU_REG/$ref present"; return 0; fi
  emu_extract qemu-user-static:amd64 qemu
  local root; root=$(mktemp -d)
  emu_busybox_root "$root" /bin/busybox
  mkdir -p "$root/usr/bin" "$root/usr/libexec/qemu-binfmt" "$root/usr/share/binfmt"
  local pair g q
  for pair in $OBC_EMU_ARCHES; do
    q=${pair#*:}
    cp "$OBC_EMU_DIR/qemu/usr/bin/qemu-$q-static" "$root/usr/bin/"
    ln -sf "../../bin/qemu-$q-static" "$root/usr/libexec/qemu-binfmt/$q-binfmt-P"
    cp "$OBC_EMU_DIR/qemu/usr/lib/binfmt.d/qemu-$q.conf" "$root/usr/share/binfmt/"
  done
  emu_installer_script >"$root/usr/bin/binfmt"
  chmod 755 "$root/usr/bin/binfmt"
  log "building and pushing the binfmt installer stand-in $OBC_EMU_REG/$ref"
  tar -C "$root" --numeric-owner -c . | "$@" import --platform linux/amd64 --change 'ENV PATH=/usr/bin:/bin' \
    --change 'ENTRYPOINT ["/usr/bin/binfmt"]' - "$OBC_EMU_REG/$ref" >/dev/null
  rm -rf "$root"
  "$@" push -q "$OBC_EMU_REG/$ref" >/dev/null
}

emu_multi_base() {
  local ref="obc/busybox:multi"
  if emu_manifest_present "$ref"; then log "$OBC_EMU_REG/$ref present"; return 0; fi
  emu_extract busybox-static:arm64 busybox-arm64
  local root arch
  for arch in amd64 arm64; do
    root=$(mktemp -d)
    if [ "$arch" = amd64 ]; then emu_busybox_root "$root" /bin/busybox; else emu_busybox_root "$root" "$OBC_EMU_DIR/busybox-arm64/bin/busybox"; fi
    tar -C "$root" --numeric-owner -c . | "$@" import --platform "linux/$arch" --change 'ENV PATH=/bin' \
      --change 'CMD ["/bin/sh"]' - "$OBC_EMU_REG/obc/busybox:$arch" >/dev/null
    rm -rf "$root"
    "$@" push -q "$OBC_EMU_REG/obc/busybox:$arch" >/dev/null
  done
  log "joining $OBC_EMU_REG/obc/busybox:amd64 and :arm64 into $OBC_EMU_REG/$ref"
  "$@" buildx imagetools create -t "$OBC_EMU_REG/$ref" "$OBC_EMU_REG/obc/busybox:amd64" "$OBC_EMU_REG/obc/busybox:arm64" >/dev/null
}

# emulation_setup DOCKER-CMD...: everything above, with that daemon and the registry running.
emulation_setup() {
  emu_binfmt_mount
  emu_standin_image "$@"
  emu_multi_base "$@"
}
