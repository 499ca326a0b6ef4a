#!/usr/bin/env bash
# Build the JRE base root filesystem for the gapipe stand-in images with debootstrap
# and write it as a gzip'd tarball (numeric owners, no /dev /proc /sys content).
#
#   build-rootfs.sh OUT_TARBALL MIRROR SUITE PACKAGES
#
# PACKAGES is a comma-separated list handed to debootstrap --include (dependencies are
# resolved, recommends are not installed). Must run as root. Called by test/infra/up.sh;
# this file's content is part of the base image's cache key, so editing it rebuilds the base.
set -euo pipefail

out=${1:?output tarball}
mirror=${2:?debian mirror}
suite=${3:?suite}
packages=${4:?packages}

work=$(mktemp -d "$(dirname "$out")/rootfs.XXXXXX")
root="$work/root"
cleanup() {
  # debootstrap mounts proc/sys inside the target; never leave them behind.
  local m
  for m in "$root/proc" "$root/sys" "$root/dev/pts"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "debootstrap --variant=minbase $suite from $mirror (+ $packages)" >&2
if ! debootstrap --variant=minbase --components=main --include="$packages" \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 40 "$work/debootstrap.log" >&2
  if [[ -f "$root/debootstrap/debootstrap.log" ]]; then tail -n 40 "$root/debootstrap/debootstrap.log" >&2; fi
  echo "debootstrap failed" >&2
  exit 1
fi

for m in "$root/proc" "$root/sys" "$root/dev/pts"; do
  if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
done

# Sanity: the JRE must run inside the new root (the JVM needs /proc to find its libraries).
mount -t proc proc "$root/proc"
chroot "$root" /usr/bin/java -version >&2
umount "$root/proc"

# Keep the image usable with apt (sources for the same suite) but drop everything bulky
# that a runtime image does not need.
printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
  "$root"/var/log/* "$root"/debootstrap \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/lintian "$root"/usr/share/linda "$root"/usr/share/bug \
  "$root"/usr/share/common-licenses
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
# docker provides these at run time
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
: >"$root/etc/resolv.conf"
find "$root/dev" -mindepth 1 -delete
# Stop dpkg from reinstalling docs/man pages if someone apt-get installs into a stand-in.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-gapipe-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF

tmp_out="$out.tmp.$$"
tar --numeric-owner -C "$root" -czf "$tmp_out" .
mv -f "$tmp_out" "$out"
echo "wrote $out ($(du -h "$out" | cut -f1))" >&2
