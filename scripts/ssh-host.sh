#!/usr/bin/env bash
# ssh-host.sh - the SSH "device" of the lava-pipeline tests: Debian's
# dropbear on a loopback port, logging into this machine as root with a
# home of the test's own, so that jobs with `to: ssh` / `method: ssh` have
# a real SSH server to talk to (share/device-types/ssh.jinja2, or LAVA's).
#
#   ssh-host.sh build LAB
#       Unpacks dropbear-bin and the two libraries it needs (libtomcrypt1,
#       libtommath1), fetched with `apt-get download`, under LAB/ssh, and
#       writes a host key there. Nothing is installed on the machine.
#
#   ssh-host.sh LAB run PORT HOME
#       Runs dropbear in the foreground on 127.0.0.1:PORT (public keys
#       only), in a mount namespace of its own where HOME is mounted over
#       /root: root's authorized keys are HOME/.ssh/authorized_keys and its
#       shell starts in HOME, and the machine's /root is left alone. Needs
#       root (for the mount) and util-linux's unshare. Stop it with SIGTERM.
set -euo pipefail

say() { echo "ssh-host: $*" >&2; }
die() { say "error: $*"; exit 1; }

build() {
    local out=$1/ssh debs=$1/debs p want=()
    mkdir -p "$out" "$debs" "$1/work"
    if [ -x "$out/root/usr/sbin/dropbear" ] && [ -s "$out/host_key" ]; then
        say "already built in $out"
        return 0
    fi
    for p in dropbear-bin libtomcrypt1 libtommath1; do
        [ -n "$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | head -n 1)" ] || want+=("$p")
    done
    if [ ${#want[@]} -gt 0 ]; then
        say "downloading ${want[*]}"
        (cd "$debs" && timeout 600 apt-get download -q "${want[@]}" >"$1/work/ssh-apt.log" 2>&1) \
            || { grep -v unsandboxed "$1/work/ssh-apt.log" >&2 || true; die "apt-get download failed"; }
    fi
    rm -rf "$out/root"
    for p in dropbear-bin libtomcrypt1 libtommath1; do
        dpkg-deb -x "$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | sort | tail -n 1)" "$out/root"
    done
    rm -f "$out/host_key"
    LD_LIBRARY_PATH=$out/root/usr/lib/x86_64-linux-gnu \
        "$out/root/usr/bin/dropbearkey" -t ed25519 -f "$out/host_key" >/dev/null 2>&1 \
        || die "dropbearkey failed"
    say "built in $out: dropbear $(dpkg-deb -f "$(find "$debs" -maxdepth 1 -name 'dropbear-bin_*.deb' | sort | tail -n 1)" Version)"
}

if [ "${1:-}" = build ] && [ $# -eq 2 ]; then
    build "$(realpath -m "$2")"
    exit 0
fi
[ $# -eq 4 ] && [ "$2" = run ] || die "usage: $0 build LAB | $0 LAB run PORT HOME"
SSH=$(cd "$1" && pwd)/ssh
PORT=$3
HOME_DIR=$(cd "$4" && pwd)
[ -x "$SSH/root/usr/sbin/dropbear" ] || die "no dropbear in $SSH: run $0 build $1"
[ "$(id -u)" = 0 ] || die "needs root (to mount $HOME_DIR over /root in its own namespace)"
export LD_LIBRARY_PATH=$SSH/root/usr/lib/x86_64-linux-gnu
exec unshare --mount --propagation private -- sh -c '
    mount --bind "$1" /root || exit 1
    exec "$2/root/usr/sbin/dropbear" -F -E -s -m -p "127.0.0.1:$3" -r "$2/host_key" -P "$4"
' ssh-host "$HOME_DIR" "$SSH" "$PORT" "$SSH/dropbear-$PORT.pid"
