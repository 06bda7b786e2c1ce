#!/usr/bin/env bash
# uboot-board.sh - the U-Boot "bench boards" of the lava-pipeline board
# tests: a QEMU machine that stays up between jobs and is driven like a
# board on a lab bench (see share/device-types/qemu-uboot-bench.jinja2).
#
#   uboot-board.sh build LAB [x86_64|arm64]
#       Adds a board's firmware and the console client to LAB, the folder
#       scripts/qemu-images.sh built for that architecture (its kernel and
#       initramfs are what the jobs deploy): Debian's u-boot-qemu and
#       inetutils-telnet, fetched with `apt-get download` and unpacked under
#       LAB; nothing is installed on the machine.
#         x86_64 (default)  LAB/uboot/x86_64/u-boot.rom, the 32-bit qemu-x86
#                           build (the 64-bit one resets the machine in zboot)
#         arm64             LAB/uboot/arm64/u-boot.bin (qemu_arm64) and
#                           LAB/arm64/virt.dtb, the device tree QEMU gives
#                           this machine *with U-Boot as its firmware* (the
#                           one QEMU gives without firmware describes a GPIO
#                           block that is then absent, and the kernel panics)
#         LAB/bin/telnet    wrapper around the unpacked client
#
#   uboot-board.sh LAB ARCH start|on|off|reset|status|kill
#       start   start QEMU with its CPUs stopped (a board without power)
#       on      start if needed, then system_reset + cont (power applied)
#       reset   the same as on (a PDU's power cycle)
#       off     stop the CPUs
#       status  say whether the board's QEMU runs
#       kill    end the board's QEMU
#     ARCH is x86_64 (pc, 512 MiB) or arm64 (virt, cortex-a57, 1 GiB).
#     The serial line is a telnet server on 127.0.0.1:BOARD_SERIAL_PORT
#     (QEMU negotiates character mode, as ser2net does), the monitor a TCP
#     server on 127.0.0.1:BOARD_MONITOR_PORT; QEMU's user network answers
#     U-Boot's dhcp and serves TFTP (10.0.2.2) from BOARD_TFTP_DIR, fixed
#     when QEMU starts: point it at the dispatcher's TFTP root.
#   Environment: BOARD_SERIAL_PORT (5550), BOARD_MONITOR_PORT (serial + 1),
#     BOARD_TFTP_DIR (LAB/tftp), BOARD_NAME (ARCH; names LAB/run/NAME.*).
set -euo pipefail

say() { echo "uboot-board: $*" >&2; }
die() { say "error: $*"; exit 1; }

# machine ARCH: sets QEMU (the emulator in LAB/bin), FIRMWARE (U-Boot under
# LAB/uboot) and MACHINE (the options that shape the machine; the device
# tree is dumped with the same ones).
machine() {
    case $1 in
        x86_64) QEMU=qemu-system-x86_64; FIRMWARE=uboot/x86_64/u-boot.rom
                MACHINE=(-M pc -m 512) ;;
        arm64)  QEMU=qemu-system-aarch64; FIRMWARE=uboot/arm64/u-boot.bin
                MACHINE=(-M virt -cpu cortex-a57 -m 1024) ;;
        *) die "unknown architecture $1 (x86_64 or arm64)" ;;
    esac
}

build() {
    local out=$1 arch=$2 debs images
    machine "$arch"
    case $arch in
        x86_64) images=("$out/vmlinuz" "$out/initramfs.cpio.gz") ;;
        arm64) images=("$out/arm64/Image" "$out/arm64/initramfs.cpio.gz") ;;
    esac
    [ -s "${images[0]}" ] && [ -s "${images[1]}" ] && [ -x "$out/bin/$QEMU" ] \
        || die "no $arch images in $out: run scripts/qemu-images.sh $out $arch first"
    if [ -s "$out/$FIRMWARE" ] && [ -x "$out/bin/telnet" ] \
        && { [ "$arch" != arm64 ] || [ -s "$out/arm64/virt.dtb" ]; }; then
        say "already built in $out ($arch)"
        return 0
    fi
    debs=$out/debs
    mkdir -p "$debs" "$out/$(dirname "$FIRMWARE")" "$out/work"
    local want=() p
    for p in u-boot-qemu inetutils-telnet; do
        [ -n "$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | head -n 1)" ] || want+=("$p")
    done
    if [ ${#want[@]} -gt 0 ]; then
        say "downloading ${want[*]}"
        (cd "$debs" && timeout 600 apt-get download -q "${want[@]}" >"$out/work/uboot-apt.log" 2>&1) \
            || { grep -v unsandboxed "$out/work/uboot-apt.log" >&2 || true; die "apt-get download failed"; }
    fi
    local tmp=$out/work/uboot-unpack
    rm -rf "$tmp"; mkdir -p "$tmp"
    dpkg-deb -x "$(find "$debs" -maxdepth 1 -name 'u-boot-qemu_*.deb' | sort | tail -n 1)" "$tmp/u-boot"
    case $arch in
        x86_64) cp "$tmp/u-boot/usr/lib/u-boot/qemu-x86/u-boot.rom" "$out/$FIRMWARE" ;;
        arm64)
            cp "$tmp/u-boot/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$out/$FIRMWARE"
            "$out/bin/$QEMU" "${MACHINE[@]}" -accel tcg -display none -bios "$out/$FIRMWARE" \
                -machine "dumpdtb=$out/arm64/virt.dtb" >"$out/work/dumpdtb.log" 2>&1 \
                || { cat "$out/work/dumpdtb.log" >&2; die "QEMU did not dump the device tree"; }
            [ -s "$out/arm64/virt.dtb" ] || die "QEMU dumped no device tree" ;;
    esac
    if [ ! -x "$out/bin/telnet" ]; then
        rm -rf "$out/telnet"
        dpkg-deb -x "$(find "$debs" -maxdepth 1 -name 'inetutils-telnet_*.deb' | sort | tail -n 1)" "$out/telnet"
        cat > "$out/bin/telnet" <<'EOF'
#!/bin/sh
# inetutils-telnet unpacked by uboot-board.sh (not installed system-wide)
exec "$(cd "$(dirname "$0")/.." && pwd)/telnet/usr/bin/inetutils-telnet" "$@"
EOF
        chmod 755 "$out/bin/telnet"
    fi
    rm -rf "$tmp"
    say "built in $out ($arch): $(dpkg-deb -f "$(find "$debs" -maxdepth 1 -name 'u-boot-qemu_*.deb' | sort | tail -n 1)" Version) (u-boot-qemu)"
}

usage="usage: $0 build LAB [x86_64|arm64] | $0 LAB x86_64|arm64 start|on|off|reset|status|kill"
if [ "${1:-}" = build ] && { [ $# -eq 2 ] || [ $# -eq 3 ]; }; then
    build "$(realpath -m "$2")" "${3:-x86_64}"
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
mkdir -p "$RUN" "$TFTP"

alive() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# monitor CMD...: each command to QEMU's human monitor, after its "(qemu) "
# prompt, with bash's /dev/tcp; bounded by a timeout.
monitor() {
    timeout 15 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$0"
        prompt() {
            local seen="" c
            while IFS= read -r -n 1 -d "" c <&3; do
                seen+=$c
                case $seen in *"(qemu) ") return 0 ;; esac
            done
            return 1
        }
        prompt
        for c in "$@"; do printf "%s\n" "$c" >&3; prompt; done
        exec 3>&-' "$MPORT" "$@"
}

start() {
    alive && return 0
    [ -s "$LAB/$FIRMWARE" ] || die "no U-Boot in $LAB: run $0 build $LAB $ARCH"
    rm -f "$PIDFILE"
    "$LAB/bin/$QEMU" "${MACHINE[@]}" -accel tcg -display none \
        -bios "$LAB/$FIRMWARE" -S -no-shutdown \
        -netdev "user,id=n0,restrict=on,tftp=$TFTP" -device virtio-net-pci,netdev=n0 \
        -serial "telnet:127.0.0.1:$SPORT,server=on,wait=off" \
        -monitor "tcp:127.0.0.1:$MPORT,server=on,wait=off" \
        -daemonize -pidfile "$PIDFILE" 2>"$RUN/$NAME.log" \
        || die "QEMU did not start: $(cat "$RUN/$NAME.log")"
    # -daemonize returns once the pid file is written and the sockets listen
    alive || die "QEMU exited: $(cat "$RUN/$NAME.log")"
}

case $ACTION in
    start) start ;;
    on|reset) start; monitor system_reset cont ;;
    off) if alive; then monitor stop; fi ;;
    status) if alive; then echo "running pid $(cat "$PIDFILE") serial 127.0.0.1:$SPORT monitor 127.0.0.1:$MPORT"; else echo stopped; fi ;;
    kill) if alive; then kill "$(cat "$PIDFILE")"; fi; rm -f "$PIDFILE" "$RUN/$NAME.log" ;;
    *) die "unknown action $ACTION" ;;
esac
