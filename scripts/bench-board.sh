#!/usr/bin/env bash
# bench-board.sh - the "bench boards" of the lava-pipeline board tests: a
# QEMU machine that stays up between jobs and is driven like a board on a
# lab bench. Four boards:
#   x86_64, arm64  firmware U-Boot (share/device-types/qemu-uboot-bench.jinja2)
#   ipxe           a PC (SeaBIOS) booting its NIC's iPXE ROM, the one QEMU
#                  ships; SeaBIOS copies the serial line to the keyboard so
#                  iPXE's prompt can be typed at (slowly: under TCG it drops
#                  characters less than ~30 ms apart, hence the dictionary's
#                  boot_character_delay)
#   grub           the same PC, whose iPXE fetches GRUB (a PXE build of
#                  Debian's grub-pc-bin) by DHCP + TFTP and runs it; GRUB's
#                  own serial terminal takes full-speed typing
# (share/device-types/qemu-pc-bench.jinja2 drives both PC boards.)
#
#   bench-board.sh build LAB [x86_64|arm64|ipxe|grub]
#       Adds a board's firmware and the console client to LAB, the folder
#       scripts/qemu-images.sh built for that architecture (x86_64 for the
#       PC boards; its kernel and initramfs are what the jobs deploy), from
#       Debian's packages fetched with `apt-get download` and unpacked under
#       LAB; nothing is installed on the machine.
#         x86_64 (default)  LAB/uboot/x86_64/u-boot.rom, the 32-bit qemu-x86
#                           build of u-boot-qemu (the 64-bit one resets the
#                           machine in zboot)
#         arm64             LAB/uboot/arm64/u-boot.bin (qemu_arm64) and
#                           LAB/arm64/virt.dtb, the device tree QEMU gives
#                           this machine *with U-Boot as its firmware* (the
#                           one QEMU gives without firmware describes a GPIO
#                           block that is then absent, and the kernel panics)
#         ipxe              LAB/pc/sercon-port (the fw_cfg file that turns on
#                           SeaBIOS's serial console)
#         grub              LAB/pc/grub/: core.0 made by grub-mkimage
#                           (i386-pc-pxe, from grub-pc-bin and grub-common),
#                           the i386-pc modules and a grub.cfg whose menu
#                           uses the serial line
#         every board       LAB/bin/telnet, a wrapper around inetutils-telnet
#
#   bench-board.sh LAB BOARD start|run|on|off|reset|status|kill
#       start   start QEMU with its CPUs stopped (a board without power)
#       run     the same in the foreground: the script becomes QEMU, which
#               does not daemonize, for a caller that ends the board with
#               itself (lava-lab: its own child, killed when the lab dies)
#       on      start if needed, then system_reset + cont (power applied);
#               a board started with run is not started again: its QEMU
#               is its caller's, so on fails with "board not running"
#       reset   the same as on (a PDU's power cycle)
#       off     stop the CPUs
#       status  say whether the board's QEMU runs
#       kill    end the board's QEMU
#     BOARD is x86_64 (pc, 512 MiB), arm64 (virt, cortex-a57, 1 GiB), ipxe
#     or grub (pc, 512 MiB, booting from its virtio NIC).
#     The serial line is a telnet server on 127.0.0.1:BOARD_SERIAL_PORT
#     (QEMU negotiates character mode, as ser2net does), the monitor a TCP
#     server on 127.0.0.1:BOARD_MONITOR_PORT; QEMU's user network answers
#     the firmware's DHCP and serves TFTP (10.0.2.2) from BOARD_TFTP_DIR,
#     fixed when QEMU starts: point it at the dispatcher's TFTP root. The
#     grub board copies LAB/pc/grub to BOARD_TFTP_DIR/grub when it starts
#     (the PXE bootloader lives in the TFTP root, as in a lab). The board
#     reaches nothing else unless BOARD_NETWORK=open: then it also reaches
#     this machine's services (10.0.2.2 is its loopback, and its own
#     addresses work too), as an NFS root or transfer_overlay needs.
#   Environment: BOARD_SERIAL_PORT (5550), BOARD_MONITOR_PORT (serial + 1),
#     BOARD_TFTP_DIR (LAB/tftp), BOARD_NAME (BOARD; names LAB/run/NAME.*),
#     BOARD_NETWORK (closed).
set -euo pipefail

say() { echo "bench-board: $*" >&2; }
die() { say "error: $*"; exit 1; }

# machine BOARD: sets QEMU (the emulator in LAB/bin), FIRMWARE (what the
# board needs under LAB), MACHINE (the options that shape the machine; the
# arm64 device tree is dumped with the same ones) and IMAGES (the lab's
# images, built by scripts/qemu-images.sh, that the board's jobs deploy).
machine() {
    case $1 in
        x86_64) QEMU=qemu-system-x86_64; FIRMWARE=uboot/x86_64/u-boot.rom
                MACHINE=(-M pc -m 512); IMAGES=(vmlinuz initramfs.cpio.gz) ;;
        arm64)  QEMU=qemu-system-aarch64; FIRMWARE=uboot/arm64/u-boot.bin
                MACHINE=(-M virt -cpu cortex-a57 -m 1024)
                IMAGES=(arm64/Image arm64/initramfs.cpio.gz) ;;
        ipxe)   QEMU=qemu-system-x86_64; FIRMWARE=pc/sercon-port
                MACHINE=(-M pc -m 512); IMAGES=(vmlinuz initramfs.cpio.gz) ;;
        grub)   QEMU=qemu-system-x86_64; FIRMWARE=pc/grub/core.0
                MACHINE=(-M pc -m 512); IMAGES=(vmlinuz initramfs.cpio.gz) ;;
        *) die "unknown board $1 (x86_64, arm64, ipxe or grub)" ;;
    esac
}

# debs PKG...: apt-get download into LAB/debs what is not there yet.
debs() {
    local want=() p
    for p in "$@"; do
        [ -n "$(newest "$p")" ] || want+=("$p")
    done
    [ ${#want[@]} -eq 0 ] && return 0
    say "downloading ${want[*]}"
    (cd "$DEBS" && timeout 600 apt-get download -q "${want[@]}" >"$OUT/work/bench-apt.log" 2>&1) \
        || { grep -v unsandboxed "$OUT/work/bench-apt.log" >&2 || true; die "apt-get download failed"; }
}

# newest PKG: the newest cached .deb of PKG (empty when none).
newest() {
    find "$DEBS" -maxdepth 1 -name "${1}_*.deb" | sort | tail -n 1
}

# The GRUB of the grub board: a PXE image that reads (tftp)/grub/grub.cfg,
# the modules it loads from there, and a menu on the serial line that a job
# interrupts with 'c' (the menu entry itself only says there is no job).
build_grub() {
    local tmp=$OUT/work/grub-unpack dir=$OUT/pc/grub
    debs grub-pc-bin grub-common
    rm -rf "$tmp" "$dir"; mkdir -p "$tmp" "$dir/i386-pc"
    dpkg-deb -x "$(newest grub-pc-bin)" "$tmp"
    dpkg-deb -x "$(newest grub-common)" "$tmp"
    cp "$tmp"/usr/lib/grub/i386-pc/*.mod "$tmp"/usr/lib/grub/i386-pc/*.lst "$dir/i386-pc/"
    "$tmp/usr/bin/grub-mkimage" -d "$tmp/usr/lib/grub/i386-pc" -O i386-pc-pxe \
        -p '(tftp)/grub' -o "$dir/core.0.new" pxe tftp net normal serial terminal linux echo test \
        || die "grub-mkimage failed"
    cat > "$dir/grub.cfg" <<'EOC'
# bench-board.sh: GRUB of the grub bench board, on the serial line
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=10
menuentry 'bench board: no job (interrupt with c)' {
    echo 'bench board: nothing to boot without a job'
}
EOC
    dpkg-deb -f "$(newest grub-pc-bin)" Version > "$dir/VERSION"
    mv "$dir/core.0.new" "$dir/core.0"
    rm -rf "$tmp"
}

build() {
    local arch=$1 i
    OUT=$2
    DEBS=$OUT/debs
    machine "$arch"
    for i in "${IMAGES[@]}"; do
        [ -s "$OUT/$i" ] || die "no $i in $OUT: run scripts/qemu-images.sh $OUT first"
    done
    [ -x "$OUT/bin/$QEMU" ] || die "no $QEMU in $OUT/bin: run scripts/qemu-images.sh first"
    if [ -s "$OUT/$FIRMWARE" ] && [ -x "$OUT/bin/telnet" ] \
        && { [ "$arch" != arm64 ] || [ -s "$OUT/arm64/virt.dtb" ]; }; then
        say "already built in $OUT ($arch)"
        return 0
    fi
    mkdir -p "$DEBS" "$OUT/$(dirname "$FIRMWARE")" "$OUT/work"
    debs inetutils-telnet
    local tmp=$OUT/work/uboot-unpack version
    case $arch in
        x86_64|arm64)
            debs u-boot-qemu
            rm -rf "$tmp"; mkdir -p "$tmp"
            dpkg-deb -x "$(newest u-boot-qemu)" "$tmp/u-boot"
            version="$(dpkg-deb -f "$(newest u-boot-qemu)" Version) (u-boot-qemu)" ;;
    esac
    case $arch in
        x86_64) cp "$tmp/u-boot/usr/lib/u-boot/qemu-x86/u-boot.rom" "$OUT/$FIRMWARE" ;;
        arm64)
            cp "$tmp/u-boot/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$OUT/$FIRMWARE"
            "$OUT/bin/$QEMU" "${MACHINE[@]}" -accel tcg -display none -bios "$OUT/$FIRMWARE" \
                -machine "dumpdtb=$OUT/arm64/virt.dtb" >"$OUT/work/dumpdtb.log" 2>&1 \
                || { cat "$OUT/work/dumpdtb.log" >&2; die "QEMU did not dump the device tree"; }
            [ -s "$OUT/arm64/virt.dtb" ] || die "QEMU dumped no device tree" ;;
        ipxe)
            # SeaBIOS reads etc/sercon-port as a little-endian integer: the
            # I/O port of the first serial line, 0x3f8
            printf '\370\003' > "$OUT/$FIRMWARE"
            version="SeaBIOS serial console, QEMU's iPXE ROM" ;;
        grub)
            build_grub
            version="$(cat "$OUT/pc/grub/VERSION") (grub-pc-bin, PXE image)" ;;
    esac
    if [ ! -x "$OUT/bin/telnet" ]; then
        rm -rf "$OUT/telnet"
        dpkg-deb -x "$(newest inetutils-telnet)" "$OUT/telnet"
        cat > "$OUT/bin/telnet" <<'EOF'
#!/bin/sh
# inetutils-telnet unpacked by bench-board.sh (not installed system-wide)
exec "$(cd "$(dirname "$0")/.." && pwd)/telnet/usr/bin/inetutils-telnet" "$@"
EOF
        chmod 755 "$OUT/bin/telnet"
    fi
    rm -rf "$tmp"
    say "built in $OUT ($arch): $version"
}

usage="usage: $0 build LAB [x86_64|arm64|ipxe|grub] | $0 LAB x86_64|arm64|ipxe|grub start|run|on|off|reset|status|kill"
if [ "${1:-}" = build ] && { [ $# -eq 2 ] || [ $# -eq 3 ]; }; then
    build "${3:-x86_64}" "$(realpath -m "$2")"
    exit 0
fi
[ $# -eq 3 ] || die "$usage"
machine "$2"
LAB=$(cd "$1" && pwd); ARCH=$2; ACTION=$3
SPORT=${BOARD_SERIAL_PORT:-5550}
MPORT=${BOARD_MONITOR_PORT:-$((SPORT + 1))}
TFTP=${BOARD_TFTP_DIR:-$LAB/tftp}
NAME=${BOARD_NAME:-$2}
RUN=$LAB/run
PIDFILE=$RUN/$NAME.pid
# left by run: the board's QEMU belongs to the caller of run, which stops it
MANAGED=$RUN/$NAME.managed
mkdir -p "$RUN" "$TFTP"

alive() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# monitor CMD...: each command to QEMU's human monitor, after its "(qemu) "
# prompt, with bash's /dev/tcp; bounded by a timeout.
monitor() {
    timeout 15 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
        prompt() {
            local seen="" c
            while IFS= read -r -n 1 -d "" c <&3; do
                seen+=$c
                case $seen in *"(qemu) ") return 0 ;; esac
            done
            return 1
        }
        prompt || exit 1
        for c in "$@"; do printf "%s\n" "$c" >&3 && prompt || exit 1; done
        exec 3>&-' "$MPORT" "$@" || die "the QEMU monitor on 127.0.0.1:$MPORT did not take: $*"
}

# start [foreground]
start() {
    if alive; then
        [ "${1:-}" != foreground ] || die "$NAME already runs (pid $(cat "$PIDFILE"))"
        return 0
    fi
    [ -s "$LAB/$FIRMWARE" ] || die "no $FIRMWARE in $LAB: run $0 build $LAB $ARCH"
    local boot=() net="user,id=n0,restrict=on,tftp=$TFTP"
    case ${BOARD_NETWORK:-closed} in
        closed) ;;
        open) net="user,id=n0,tftp=$TFTP" ;;
        *) die "BOARD_NETWORK is closed or open, not '$BOARD_NETWORK'" ;;
    esac
    case $ARCH in
        x86_64|arm64) boot=(-bios "$LAB/$FIRMWARE") ;;
        ipxe) boot=(-boot n -fw_cfg "name=etc/sercon-port,file=$LAB/$FIRMWARE") ;;
        grub)
            rm -rf "$TFTP/grub"; cp -r "$LAB/pc/grub" "$TFTP/grub"
            boot=(-boot n); net+=",bootfile=grub/core.0" ;;
    esac
    rm -f "$PIDFILE" "$MANAGED"
    local qemu=("$LAB/bin/$QEMU" "${MACHINE[@]}" -accel tcg -display none
        "${boot[@]}" -S -no-shutdown
        -netdev "$net" -device virtio-net-pci,netdev=n0
        -serial "telnet:127.0.0.1:$SPORT,server=on,wait=off"
        -monitor "tcp:127.0.0.1:$MPORT,server=on,wait=off"
        -pidfile "$PIDFILE")
    if [ "${1:-}" = foreground ]; then
        : >"$MANAGED"
        exec "${qemu[@]}" 2>"$RUN/$NAME.log"
    fi
    "${qemu[@]}" -daemonize 2>"$RUN/$NAME.log" \
        || die "QEMU did not start: $(cat "$RUN/$NAME.log")"
    # -daemonize returns once the pid file is written and the sockets listen
    alive || die "QEMU exited: $(cat "$RUN/$NAME.log")"
}

case $ACTION in
    start) start ;;
    run) start foreground ;;
    on|reset)
        # a board started with run is not daemonized anew behind its owner
        if [ -e "$MANAGED" ] && ! alive; then die "$NAME: board not running"; fi
        start; monitor system_reset cont ;;
    off) if alive; then monitor stop; fi ;;
    status) if alive; then echo "running pid $(cat "$PIDFILE") serial 127.0.0.1:$SPORT monitor 127.0.0.1:$MPORT"; else echo stopped; fi ;;
    kill) if alive; then kill "$(cat "$PIDFILE")"; fi; rm -f "$PIDFILE" "$MANAGED" "$RUN/$NAME.log" ;;
    *) die "unknown action $ACTION" ;;
esac
