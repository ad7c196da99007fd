#!/bin/sh
# Build a busybox root filesystem tarball from Debian's busybox-static package.
#
#   scripts/build-busybox.sh [OUT.tar]      (default: .cache/busybox.tar in the repo)
#
# Orlop never talks to a container registry, so the test image comes from the
# distribution's own, signed package archive: `apt-get download busybox-static`,
# `dpkg-deb -x`, one symlink per applet (from `busybox --list-full`), a minimal
# /etc, and the usual top-level directories, all owned by root, packed with
# `tar --numeric-owner`.  An existing OUT is reused.  Needs root (for the
# ownership of the files in the tarball) on Debian 12 or similar.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$repo/.cache/busybox.tar"}

if [ -s "$out" ]; then
    echo "$out"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "build-busybox.sh: must run as root (files in the image are owned by root)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/orlop-busybox.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$(dirname "$out")"

# --- the package -------------------------------------------------------------------
# Ask apt-cache first so that a machine that already knows the package never needs
# the network for the index; `apt-get update` only when the package is unknown.
if ! apt-cache show busybox-static >/dev/null 2>&1; then
    apt-get update -qq >&2
fi
deb=""
if (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root busybox-static >&2); then
    deb=$(ls "$work"/busybox-static_*.deb)
fi

mkdir "$work/pkg"
if [ -n "$deb" ]; then
    dpkg-deb -x "$deb" "$work/pkg"
    bb="$work/pkg/bin/busybox"
elif dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    # Offline fallback: the same file, from the installed package.
    echo "build-busybox.sh: apt-get download failed; using the installed busybox-static" >&2
    mkdir -p "$work/pkg/bin"
    cp -p /bin/busybox "$work/pkg/bin/busybox"
    bb="$work/pkg/bin/busybox"
else
    echo "build-busybox.sh: cannot get the busybox-static package" >&2
    exit 1
fi
[ -x "$bb" ] || { echo "build-busybox.sh: no bin/busybox in the package" >&2; exit 1; }

# --- the rootfs --------------------------------------------------------------------
rootfs="$work/rootfs"
mkdir -p "$rootfs"
chmod 0755 "$rootfs"
for d in bin sbin usr/bin usr/sbin etc home var var/log var/spool proc sys dev root tmp; do
    mkdir -p "$rootfs/$d"
    chmod 0755 "$rootfs/$d"
done
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 "$bb" "$rootfs/bin/busybox"

# Every applet at the path busybox itself reports (bin/sh, usr/bin/awk, sbin/ip ...).
"$bb" --list-full | while read -r applet; do
    case "$applet" in
        ""|bin/busybox|*..*|/*) continue ;;
    esac
    mkdir -p "$rootfs/$(dirname "$applet")"
    [ -e "$rootfs/$applet" ] || [ -L "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
done
[ -L "$rootfs/bin/sh" ] || ln -s /bin/busybox "$rootfs/bin/sh"

cat > "$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat > "$rootfs/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
chown -R 0:0 "$rootfs"

# --- the tarball ---------------------------------------------------------------------
# Sorted names and one fixed mtime (the package's) make the tarball, and so the
# layer's diff_id, the same on every machine.
mtime=$(stat -c %Y "$bb")
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$mtime" \
    -C "$rootfs" -cf "$out.tmp.$$" .
mv -f "$out.tmp.$$" "$out"
echo "$out"
