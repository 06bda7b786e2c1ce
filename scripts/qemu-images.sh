#!/usr/bin/env bash
# qemu-images.sh OUTDIR [x86_64|arm64] - the QEMU "boards" the lava-pipeline
# tests boot: a Debian kernel and a busybox initramfs, and a QEMU to run
# them, all from Debian's archive with `apt-get download`. Nothing is
# installed on the machine: packages are unpacked under OUTDIR.
#
# x86_64 (the default) gives OUTDIR:
#   vmlinuz               the kernel of linux-image-cloud-amd64 (LZ4, quick under TCG)
#   initramfs.cpio.gz     busybox-static, the virtio and ext4 modules, a
#                         getty login on the serial console (user root,
#                         password $QEMU_LAB_PASSWORD, default "lava"); with
#                         root=/dev/nfs on the kernel command line its /init
#                         mounts nfsroot= over NFS version 4 and switches to it
#   nfsrootfs.tar.gz      the same guest as a root file system for NFS
#   bin/qemu-system-x86_64  the installed QEMU, or a wrapper around
#                         Debian's qemu-system-x86 unpacked in OUTDIR/qemu
#   VERSION               what was built
# arm64 gives OUTDIR:
#   arm64/Image           the kernel of linux-image-arm64 (uncompressed)
#   arm64/initramfs.cpio.gz  the same guest, with arm64's busybox-static
#   arm64/VERSION
#   bin/qemu-system-aarch64  the installed QEMU or Debian's qemu-system-arm
#   The arm64 packages come through a private package list under
#   OUTDIR/work/apt-arm64: the machine's dpkg architectures stay as they are.
# Both keep debs/ as the .deb cache (a second run downloads nothing).
#
# Needs: Debian 12 on amd64 with apt-get, apt-cache, dpkg-deb, gzip, find.
# As root it runs `apt-get update` first (QEMU_LAB_SKIP_UPDATE=1 skips it;
# the private arm64 list is always refreshed when it is missing).
set -euo pipefail

say() { echo "qemu-images: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: $0 OUTDIR [x86_64|arm64]"
OUT=$(realpath -m "$1")
ARCH=${2:-x86_64}
PASSWORD=${QEMU_LAB_PASSWORD:-lava}
[ "$(dpkg --print-architecture)" = amd64 ] || die "this script builds on an amd64 host"
case $ARCH in
    x86_64) DEBARCH=amd64; KERNEL_OUT=$OUT/vmlinuz; RAMDISK_OUT=$OUT/initramfs.cpio.gz
            VERSION_OUT=$OUT/VERSION; NFSROOT_OUT=$OUT/nfsrootfs.tar.gz; QEMU_BIN=qemu-system-x86_64; QEMU_PKG=qemu-system-x86
            KMETA=linux-image-cloud-amd64 ;;
    arm64)  DEBARCH=arm64; KERNEL_OUT=$OUT/arm64/Image; RAMDISK_OUT=$OUT/arm64/initramfs.cpio.gz
            VERSION_OUT=$OUT/arm64/VERSION; NFSROOT_OUT=$OUT/arm64/nfsrootfs.tar.gz; QEMU_BIN=qemu-system-aarch64; QEMU_PKG=qemu-system-arm
            KMETA=linux-image-arm64 ;;
    *) die "unknown architecture $ARCH (x86_64 or arm64)" ;;
esac
mkdir -p "$OUT/debs" "$OUT/work" "$OUT/bin" "$(dirname "$KERNEL_OUT")"
DEBS=$OUT/debs
WORK=$OUT/work

if [ -s "$VERSION_OUT" ] && [ -s "$KERNEL_OUT" ] && [ -s "$RAMDISK_OUT" ] && [ -s "$NFSROOT_OUT" ] && [ -x "$OUT/bin/$QEMU_BIN" ]; then
    say "already built: $(cat "$VERSION_OUT")"
    exit 0
fi

if [ "${QEMU_LAB_SKIP_UPDATE:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    say "apt-get update"
    timeout 600 apt-get update -qq || say "apt-get update reported errors; going on with the lists we have"
fi

# The guest's packages: the host's apt for amd64; for another architecture
# a private list (its own lists, cache and an empty dpkg status).
GUEST_APT=()
if [ "$DEBARCH" != amd64 ]; then
    A=$WORK/apt-$DEBARCH
    mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
    GUEST_APT=(-o "APT::Architecture=$DEBARCH" -o "APT::Architectures::=$DEBARCH"
               -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache"
               -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
    if [ -z "$(find "$A/lists" -maxdepth 1 -name '*_Packages*' | head -n 1)" ] \
        || { [ "${QEMU_LAB_SKIP_UPDATE:-0}" != 1 ] && [ "$(id -u)" = 0 ]; }; then
        say "apt-get update ($DEBARCH, private list in $A)"
        timeout 600 apt-get "${GUEST_APT[@]}" update -qq >"$WORK/apt-$DEBARCH.log" 2>&1 \
            || say "apt-get update ($DEBARCH) reported errors; going on with the lists we have"
        [ -n "$(find "$A/lists" -maxdepth 1 -name '*_Packages*' | head -n 1)" ] \
            || { cat "$WORK/apt-$DEBARCH.log" >&2; die "no $DEBARCH package list could be fetched"; }
    fi
fi

# deb PKG [ARCH]: the cached .deb of PKG for ARCH (default amd64; "all"
# packages match any), empty when absent.
deb() {
    find "$DEBS" -maxdepth 1 \( -name "${1}_*_${2:-amd64}.deb" -o -name "${1}_*_all.deb" \) | sort | tail -n 1
}

# fetch ARCH PKG...: apt-get download what is not cached yet.
fetch() {
    local arch=$1 missing=() p apt=()
    shift
    [ "$arch" = amd64 ] || apt=("${GUEST_APT[@]}")
    for p in "$@"; do [ -n "$(deb "$p" "$arch")" ] || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "downloading ${missing[*]} ($arch)"
    (cd "$DEBS" && timeout 900 apt-get "${apt[@]}" download -q "${missing[@]}" >"$WORK/apt.log" 2>&1) \
        || { grep -v unsandboxed "$WORK/apt.log" >&2 || true; die "apt-get download ${missing[*]} ($arch) failed"; }
}

# --- kernel and busybox -----------------------------------------------------
if [ "$DEBARCH" = amd64 ]; then
    KPKG=$(apt-cache depends "$KMETA" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
else
    KPKG=$(apt-cache "${GUEST_APT[@]}" depends "$KMETA" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$KPKG" ] || die "cannot resolve $KMETA (is apt's package list there?)"
fetch "$DEBARCH" "$KPKG" busybox-static
# the host's busybox runs the tools (depmod, mkpasswd, cpio) whatever the guest
fetch amd64 busybox-static
rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/hostbusybox" "$WORK/root"
dpkg-deb -x "$(deb "$KPKG" "$DEBARCH")" "$WORK/kernel"
dpkg-deb -x "$(deb busybox-static "$DEBARCH")" "$WORK/busybox"
dpkg-deb -x "$(deb busybox-static amd64)" "$WORK/hostbusybox"
KVER=$(ls "$WORK/kernel/lib/modules" | head -n 1)
BB=$WORK/hostbusybox/bin/busybox
# (Debian's arm64 package names its uncompressed Image vmlinuz-KVER too)
cp "$WORK"/kernel/boot/vmlinuz-* "$KERNEL_OUT"

# --- initramfs ----------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,lib/modules}
cp "$WORK/busybox/bin/busybox" "$R/bin/busybox"
"$BB" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$R/$applet"
done

# modules the guest needs (with what they depend on), when the kernel has
# them as modules rather than built in (arm64's virt machine puts its
# consoles and disks on virtio-mmio, its network card on PCI)
MODDIR=$WORK/kernel/lib/modules/$KVER
[ -e "$MODDIR/modules.dep" ] || "$BB" depmod -b "$WORK/kernel" "$KVER"
# (the NFS client ones are loaded only for an NFS root, by /init)
WANTED="virtio_pci virtio_mmio virtio_blk virtio_net virtio_console ext4"
NFS_WANTED="nfsv4"
: > "$R/etc/modules"
: > "$R/etc/modules-nfs"
for m in $WANTED $NFS_WANTED; do
    line=$(grep -E "/${m}\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" || true)
    [ -n "$line" ] || continue
    case " $NFS_WANTED " in *" $m "*) echo "$m" >> "$R/etc/modules-nfs" ;; *) echo "$m" >> "$R/etc/modules" ;; esac
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
cat > "$R/etc/profile" <<'EOS'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
export PS1='\u@\h:\w# '
cd /root
EOS
cat > "$R/etc/inittab" <<'EOS'
::sysinit:/etc/boot
::respawn:/etc/console
::shutdown:/bin/umount -a -r
EOS
cat > "$R/etc/boot" <<'EOS'
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
EOS
cat > "$R/etc/console" <<'EOS'
#!/bin/sh
# A login on the serial console (busybox init restarts it after logout).
# No setsid here: init already made this process a session leader.
tty=$(cat /sys/class/tty/console/active 2>/dev/null)
tty=${tty##* }
[ -n "$tty" ] && [ -e "/dev/$tty" ] || tty=console
exec /sbin/getty -L 115200 "$tty" vt100
EOS
chmod 755 "$R/etc/boot" "$R/etc/console"
cat > "$R/init" <<'EOS'
#!/bin/sh
# The initramfs's first process. Without root=/dev/nfs on the kernel
# command line it becomes busybox init. With it, it brings the network up
# (ip=dhcp, the default, or ip=CLIENT:SERVER:GATEWAY:NETMASK:...), mounts
# nfsroot=SERVER:PATH[,OPTIONS] over NFS version 4 (unless OPTIONS say
# vers=) and switches to that root's /sbin/init, as a distribution's
# initramfs does for a kernel whose NFS client is a module.
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
mount -t proc proc /proc
root='' nfsroot='' ip=''
for arg in $(cat /proc/cmdline); do
    case $arg in
        root=*) root=${arg#root=} ;;
        nfsroot=*) nfsroot=${arg#nfsroot=} ;;
        ip=*) ip=${arg#ip=} ;;
    esac
done
if [ "$root" != /dev/nfs ]; then
    umount /proc
    exec /bin/busybox init
fi
fail() {
    echo "nfsroot: $*" >&2
    echo "nfsroot: no root file system; here is a shell" >&2
    exec /bin/sh
}
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
while read -r m; do modprobe -q "$m" 2>/dev/null; done < /etc/modules
while read -r m; do modprobe "$m" || fail "cannot load the $m module"; done < /etc/modules-nfs
# ip= as the kernel reads it: dhcp (the default) and its synonyms, off,
# or CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:... where an
# empty CLIENT or a DHCP-like AUTOCONF means DHCP on DEVICE
client='' gateway='' netmask='' device='' autoconf=dhcp
case $ip in
    ''|dhcp|on|any|both|bootp|rarp) ;;
    off|none) autoconf=off ;;
    *)
        IFS=: read -r client _ gateway netmask _ device autoconf _ <<EOF
$ip
EOF
        case $autoconf in
            dhcp|on|any|both|bootp|rarp) autoconf=dhcp ;;
            off|none) autoconf=off ;;
            *) autoconf='' ;;
        esac
        [ -n "$client" ] || [ "$autoconf" = off ] || autoconf=dhcp ;;
esac
# the interface: DEVICE, else the first Ethernet one; late ones (USB) get
# ten seconds to appear
iface=''
tries=0
while [ -z "$iface" ]; do
    if [ -n "$device" ]; then
        [ -e "/sys/class/net/$device" ] && iface=$device
    else
        for n in /sys/class/net/*; do
            [ "$(cat "$n/type" 2>/dev/null)" = 1 ] && [ "${n##*/}" != lo ] && { iface=${n##*/}; break; }
        done
    fi
    [ -n "$iface" ] && break
    tries=$((tries + 1))
    [ $tries -le 10 ] || fail "no network interface ${device}"
    sleep 1
done
ip link set lo up
ip link set "$iface" up
if [ "$autoconf" = dhcp ]; then
    udhcpc -i "$iface" -n -q -t 10 -s /etc/udhcpc.script >/dev/null \
        || fail "no DHCP answer on $iface"
elif [ -n "$client" ]; then
    ifconfig "$iface" "$client" netmask "${netmask:-255.255.255.0}" up \
        || fail "cannot configure $iface with ip=$ip"
    [ -z "$gateway" ] || route add default gw "$gateway"
fi
case $nfsroot in
    *:*) ;;
    *) fail "nfsroot=$nfsroot does not name a server (SERVER:PATH[,OPTIONS])" ;;
esac
server=${nfsroot%%:*}
path=${nfsroot#*:}
options=''
case $path in *,*) options=${path#*,}; path=${path%%,*} ;; esac
mkdir -p /newroot
tries=0
until mount -t nfs -o "vers=4,${options:+$options,}addr=$server" "$server:$path" /newroot; do
    tries=$((tries + 1))
    [ $tries -lt 5 ] || fail "cannot mount $server:$path"
    sleep 2
done
echo "nfsroot: mounted $server:$path"
[ -x /newroot/sbin/init ] || [ -L /newroot/sbin/init ] || fail "no /sbin/init in $server:$path"
umount /sys
umount /dev 2>/dev/null
umount /proc
exec switch_root /newroot /sbin/init
EOS
cat > "$R/etc/udhcpc.script" <<'EOS'
#!/bin/sh
# busybox udhcpc's hook: the leased address and default route on $interface
case $1 in
    deconfig) ifconfig "$interface" 0.0.0.0 up ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
        for r in $router; do route add default gw "$r" dev "$interface"; break; done ;;
esac
exit 0
EOS
chmod 755 "$R/init" "$R/etc/udhcpc.script"
(cd "$R" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n > "$RAMDISK_OUT"
# the same tree as an NFS root (its /init is not used there)
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$R" -cf - . | gzip -9n > "$NFSROOT_OUT"

# --- QEMU -----------------------------------------------------------------------
if command -v "$QEMU_BIN" >/dev/null 2>&1 && [ "${QEMU_LAB_UNPACK_QEMU:-0}" != 1 ]; then
    ln -sf "$(command -v "$QEMU_BIN")" "$OUT/bin/$QEMU_BIN"
    say "using the installed $("$QEMU_BIN" --version | head -n 1)"
else
    # What `apt-get install` would bring (simulated: the machine is not
    # changed), unpacked under OUTDIR/qemu and run through a wrapper; the
    # x86 and Arm emulators share their libraries there.
    PKGS=$(apt-get install -s --no-install-recommends "$QEMU_PKG" ipxe-qemu 2>/dev/null | awk '/^Inst / {print $2}')
    [ -n "$PKGS" ] || die "apt-get cannot resolve $QEMU_PKG"
    # shellcheck disable=SC2086
    fetch amd64 $PKGS
    for p in $PKGS; do dpkg-deb -x "$(deb "$p" amd64)" "$OUT/qemu"; done
    [ -x "$OUT/qemu/usr/bin/$QEMU_BIN" ] || die "$QEMU_BIN is not in the unpacked packages"
    cat > "$OUT/bin/$QEMU_BIN" <<EOS
#!/bin/sh
# Debian's QEMU unpacked by qemu-images.sh: its libraries, modules (TCG is
# one) and firmware are found beside it.
Q=\$(cd "\$(dirname "\$0")/../qemu" && pwd)
LD_LIBRARY_PATH="\$Q/usr/lib/x86_64-linux-gnu:\$Q/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
QEMU_MODULE_DIR="\$Q/usr/lib/x86_64-linux-gnu/qemu"
export LD_LIBRARY_PATH QEMU_MODULE_DIR
exec "\$Q/usr/bin/$QEMU_BIN" -L "\$Q/usr/share/qemu" -L "\$Q/usr/share/seabios" -L "\$Q/usr/lib/ipxe/qemu" "\$@"
EOS
    chmod 755 "$OUT/bin/$QEMU_BIN"
    say "unpacked $("$OUT/bin/$QEMU_BIN" --version | head -n 1)"
fi

echo "$KPKG $(dpkg-deb -f "$(deb "$KPKG" "$DEBARCH")" Version), busybox-static $(dpkg-deb -f "$(deb busybox-static "$DEBARCH")" Version), modules: $(tr '\n' ' ' < "$R/etc/modules" 2>/dev/null)+ for NFS: $(tr '\n' ' ' < "$R/etc/modules-nfs" 2>/dev/null)" > "$VERSION_OUT"
rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/hostbusybox" "$WORK/root"
say "built in $OUT ($ARCH): $(cat "$VERSION_OUT")"
