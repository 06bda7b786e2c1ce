#!/usr/bin/env bash
# qemu-images.sh OUTDIR - the x86_64 QEMU "board" the lava-pipeline QEMU
# tests boot: a Debian kernel and a busybox initramfs, and a QEMU to run
# them, all from Debian's archive with `apt-get download`. Nothing is
# installed on the machine: packages are unpacked under OUTDIR.
#
# OUTDIR gets:
#   vmlinuz               the kernel of linux-image-cloud-amd64 (LZ4, quick under TCG)
#   initramfs.cpio.gz     busybox-static, the virtio and ext4 modules, a
#                         getty login on the serial console (user root,
#                         password $QEMU_LAB_PASSWORD, default "lava")
#   bin/qemu-system-x86_64  the installed QEMU, or a wrapper around
#                         Debian's qemu-system-x86 unpacked in OUTDIR/qemu
#   VERSION               what was built
#   debs/                 the .deb cache (a second run downloads nothing)
#
# Needs: Debian 12 on amd64 with apt-get, apt-cache, dpkg-deb, gzip, find.
# As root it runs `apt-get update` first (QEMU_LAB_SKIP_UPDATE=1 skips it).
set -euo pipefail

say() { echo "qemu-images: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$(realpath -m "$1")
PASSWORD=${QEMU_LAB_PASSWORD:-lava}
[ "$(dpkg --print-architecture)" = amd64 ] || die "this script builds for an amd64 host"
mkdir -p "$OUT/debs" "$OUT/work" "$OUT/bin"
DEBS=$OUT/debs
WORK=$OUT/work

if [ -s "$OUT/VERSION" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initramfs.cpio.gz" ] && [ -x "$OUT/bin/qemu-system-x86_64" ]; then
    say "already built: $(cat "$OUT/VERSION")"
    exit 0
fi

if [ "${QEMU_LAB_SKIP_UPDATE:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    say "apt-get update"
    timeout 600 apt-get update -qq || say "apt-get update reported errors; going on with the lists we have"
fi

# deb PKG: the cached .deb of PKG (any version), empty when absent.
deb() { find "$DEBS" -maxdepth 1 -name "${1}_*.deb" | sort | tail -n 1; }

# fetch PKG...: apt-get download what is not cached yet.
fetch() {
    local missing=() p
    for p in "$@"; do [ -n "$(deb "$p")" ] || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "downloading ${missing[*]}"
    (cd "$DEBS" && timeout 900 apt-get download -q "${missing[@]}" >"$WORK/apt.log" 2>&1) \
        || { grep -v unsandboxed "$WORK/apt.log" >&2 || true; die "apt-get download ${missing[*]} failed"; }
}

# --- kernel and busybox -----------------------------------------------------
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 (is apt's package list there?)"
fetch "$KPKG" busybox-static
rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/root"
dpkg-deb -x "$(deb "$KPKG")" "$WORK/kernel"
dpkg-deb -x "$(deb busybox-static)" "$WORK/busybox"
KVER=$(ls "$WORK/kernel/lib/modules" | head -n 1)
BB=$WORK/busybox/bin/busybox
cp "$WORK"/kernel/boot/vmlinuz-* "$OUT/vmlinuz"

# --- initramfs ----------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,lib/modules}
cp "$BB" "$R/bin/busybox"
"$BB" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$R/$applet"
done

# modules the guest needs (with what they depend on), when the kernel has
# them as modules rather than built in
MODDIR=$WORK/kernel/lib/modules/$KVER
[ -e "$MODDIR/modules.dep" ] || "$BB" depmod -b "$WORK/kernel" "$KVER"
WANTED="virtio_pci virtio_blk virtio_net virtio_console ext4"
: > "$R/etc/modules"
for m in $WANTED; do
    line=$(grep -E "/${m}\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" || true)
    [ -n "$line" ] || continue
    echo "$m" >> "$R/etc/modules"
    for f in ${line%%:*} ${line#*:}; do
        mkdir -p "$R/lib/modules/$KVER/$(dirname "$f")"
        cp "$MODDIR/$f" "$R/lib/modules/$KVER/$f"
    done
done
cp "$MODDIR"/modules.builtin "$MODDIR"/modules.order "$R/lib/modules/$KVER/" 2>/dev/null || true
"$BB" depmod -b "$R" "$KVER"

echo lava > "$R/etc/hostname"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo "root:$("$BB" mkpasswd -m sha512 "$PASSWORD"):19000:0:99999:7:::" > "$R/etc/shadow"
chmod 600 "$R/etc/shadow"
echo 'root:x:0:' > "$R/etc/group"
echo /bin/sh > "$R/etc/shells"
printf 'lava-rs test guest \\n \\l\n\n' > "$R/etc/issue"
cat > "$R/etc/profile" <<'EOF'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
export PS1='\u@\h:\w# '
cd /root
EOF
cat > "$R/etc/inittab" <<'EOF'
::sysinit:/etc/boot
::respawn:/etc/console
::shutdown:/bin/umount -a -r
EOF
cat > "$R/etc/boot" <<'EOF'
#!/bin/sh
# Mount the kernel file systems, load the modules, quiet the kernel.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
while read -r m; do modprobe -q "$m" 2>/dev/null; done < /etc/modules
# kernel messages would cut into test output on the console
dmesg -n 1
echo "guest: boot done"
EOF
cat > "$R/etc/console" <<'EOF'
#!/bin/sh
# A login on the serial console (busybox init restarts it after logout).
# No setsid here: init already made this process a session leader.
tty=$(cat /sys/class/tty/console/active 2>/dev/null)
tty=${tty##* }
[ -n "$tty" ] && [ -e "/dev/$tty" ] || tty=console
exec /sbin/getty -L 115200 "$tty" vt100
EOF
chmod 755 "$R/etc/boot" "$R/etc/console"
ln -sf /bin/busybox "$R/init"
(cd "$R" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n > "$OUT/initramfs.cpio.gz"

# --- QEMU -----------------------------------------------------------------------
if command -v qemu-system-x86_64 >/dev/null 2>&1 && [ "${QEMU_LAB_UNPACK_QEMU:-0}" != 1 ]; then
    ln -sf "$(command -v qemu-system-x86_64)" "$OUT/bin/qemu-system-x86_64"
    say "using the installed $(qemu-system-x86_64 --version | head -n 1)"
else
    # What `apt-get install` would bring (simulated: the machine is not
    # changed), unpacked under OUTDIR/qemu and run through a wrapper.
    PKGS=$(apt-get install -s --no-install-recommends qemu-system-x86 ipxe-qemu 2>/dev/null | awk '/^Inst / {print $2}')
    [ -n "$PKGS" ] || die "apt-get cannot resolve qemu-system-x86"
    # shellcheck disable=SC2086
    fetch $PKGS
    rm -rf "$OUT/qemu"
    for p in $PKGS; do dpkg-deb -x "$(deb "$p")" "$OUT/qemu"; done
    [ -x "$OUT/qemu/usr/bin/qemu-system-x86_64" ] || die "qemu-system-x86_64 is not in the unpacked packages"
    cat > "$OUT/bin/qemu-system-x86_64" <<'EOF'
#!/bin/sh
# Debian's QEMU unpacked by qemu-images.sh: its libraries, modules (TCG is
# one) and firmware are found beside it.
Q=$(cd "$(dirname "$0")/../qemu" && pwd)
LD_LIBRARY_PATH="$Q/usr/lib/x86_64-linux-gnu:$Q/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
QEMU_MODULE_DIR="$Q/usr/lib/x86_64-linux-gnu/qemu"
export LD_LIBRARY_PATH QEMU_MODULE_DIR
exec "$Q/usr/bin/qemu-system-x86_64" -L "$Q/usr/share/qemu" -L "$Q/usr/share/seabios" -L "$Q/usr/lib/ipxe/qemu" "$@"
EOF
    chmod 755 "$OUT/bin/qemu-system-x86_64"
    say "unpacked $("$OUT/bin/qemu-system-x86_64" --version | head -n 1)"
fi

echo "$KPKG $(dpkg-deb -f "$(deb "$KPKG")" Version), busybox-static $(dpkg-deb -f "$(deb busybox-static)" Version), modules: $(tr '\n' ' ' < "$R/etc/modules" 2>/dev/null)" > "$OUT/VERSION"
rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/root"
say "built in $OUT: $(cat "$OUT/VERSION")"
