#!/usr/bin/env bash
# uboot-board.sh - the x86_64 U-Boot "bench board" of the lava-pipeline
# board tests: a QEMU machine that stays up between jobs and is driven like
# a board on a lab bench (see share/device-types/qemu-uboot-bench.jinja2).
#
#   uboot-board.sh build LAB
#       Adds the board's firmware and console client to LAB, the folder
#       scripts/qemu-images.sh built (its vmlinuz and initramfs.cpio.gz are
#       what the jobs deploy): Debian's u-boot-qemu (the 32-bit qemu-x86
#       build: the 64-bit one resets the machine in zboot) and
#       inetutils-telnet, fetched with `apt-get download` and unpacked under
#       LAB; nothing is installed on the machine.
#         LAB/uboot/x86_64/u-boot.rom
#         LAB/bin/telnet            wrapper around the unpacked client
#
#   uboot-board.sh LAB x86_64 start|on|off|reset|status|kill
#     (the architecture argument keeps the shape of the power commands of
#     share/devices/qemu-uboot-bench-01.jinja2; this script builds and runs
#     the x86_64 board)
#       start   start QEMU with its CPUs stopped (a board without power)
#       on      start if needed, then system_reset + cont (power applied)
#       reset   the same as on (a PDU's power cycle)
#       off     stop the CPUs
#       status  say whether the board's QEMU runs
#       kill    end the board's QEMU
#     The serial line is a telnet server on 127.0.0.1:BOARD_SERIAL_PORT
#     (QEMU negotiates character mode, as ser2net does), the monitor a TCP
#     server on 127.0.0.1:BOARD_MONITOR_PORT; QEMU's user network answers
#     U-Boot's dhcp and serves TFTP (10.0.2.2) from BOARD_TFTP_DIR, fixed
#     when QEMU starts: point it at the dispatcher's TFTP root.
#   Environment: BOARD_SERIAL_PORT (5550), BOARD_MONITOR_PORT (serial + 1),
#     BOARD_TFTP_DIR (LAB/tftp), BOARD_NAME (x86_64; names LAB/run/NAME.*).
set -euo pipefail

say() { echo "uboot-board: $*" >&2; }
die() { say "error: $*"; exit 1; }

build() {
    local out debs
    out=$(realpath -m "$1")
    [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ] && [ -x "$out/bin/qemu-system-x86_64" ] \
        || die "no images in $out: run scripts/qemu-images.sh $out first"
    if [ -s "$out/uboot/x86_64/u-boot.rom" ] && [ -x "$out/bin/telnet" ]; then
        say "already built in $out"
        return 0
    fi
    debs=$out/debs
    mkdir -p "$debs" "$out/uboot/x86_64" "$out/work"
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
    cp "$tmp/u-boot/usr/lib/u-boot/qemu-x86/u-boot.rom" "$out/uboot/x86_64/u-boot.rom"
    rm -rf "$out/telnet"
    dpkg-deb -x "$(find "$debs" -maxdepth 1 -name 'inetutils-telnet_*.deb' | sort | tail -n 1)" "$out/telnet"
    cat > "$out/bin/telnet" <<'EOF'
#!/bin/sh
# inetutils-telnet unpacked by uboot-board.sh (not installed system-wide)
exec "$(cd "$(dirname "$0")/.." && pwd)/telnet/usr/bin/inetutils-telnet" "$@"
EOF
    chmod 755 "$out/bin/telnet"
    rm -rf "$tmp"
    say "built in $out: $(dpkg-deb -f "$(find "$debs" -maxdepth 1 -name 'u-boot-qemu_*.deb' | sort | tail -n 1)" Version) (u-boot-qemu)"
}

usage="usage: $0 build LAB | $0 LAB x86_64 start|on|off|reset|status|kill"
if [ "${1:-}" = build ] && [ $# -eq 2 ]; then build "$2"; exit 0; fi
[ $# -eq 3 ] || die "$usage"
[ "$2" = x86_64 ] || die "architecture $2: this script runs the x86_64 board only"
LAB=$(cd "$1" && pwd); ACTION=$3
SPORT=${BOARD_SERIAL_PORT:-5550}
MPORT=${BOARD_MONITOR_PORT:-$((SPORT + 1))}
TFTP=${BOARD_TFTP_DIR:-$LAB/tftp}
NAME=${BOARD_NAME:-x86_64}
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
    [ -s "$LAB/uboot/x86_64/u-boot.rom" ] || die "no U-Boot in $LAB: run $0 build $LAB"
    rm -f "$PIDFILE"
    "$LAB/bin/qemu-system-x86_64" -M pc -accel tcg -m 512 -display none \
        -bios "$LAB/uboot/x86_64/u-boot.rom" -S -no-shutdown \
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
