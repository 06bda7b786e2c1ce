#!/usr/bin/env bash
# nfs-server.sh - the NFS server of the lava-pipeline tests: Debian's
# nfs-ganesha (a userspace NFS server) exporting directories of the test's
# own, so that NFS-root jobs (`to: nfs`, `nfsrootfs`, `persistent_nfs`)
# boot a QEMU guest whose root file system really is mounted over NFS.
#
# Why a userspace server: the kernel's NFS server needs the `nfsd` file
# system and module, which a container or a small VM kernel often lacks
# (this project's CI machine has neither), and it would export the
# machine's own directories system-wide. Ganesha needs only a TCP port.
#
#   nfs-server.sh build LAB
#       Unpacks nfs-ganesha, nfs-ganesha-vfs and the libraries they need
#       (on Debian 12: libntirpc4.3, liburcu8, libnfsidmap1, libwbclient0),
#       fetched with `apt-get download`, under LAB/nfs. Nothing is installed.
#
#   nfs-server.sh LAB run STATE PORT DIR...
#       Runs ganesha in the foreground on PORT of every address, serving
#       NFS version 4 over TCP only (no rpcbind, no mount protocol), read-
#       write without root squashing, each DIR exported under its own path
#       (a guest mounts SERVER:DIR or any directory below it). Only clients
#       from this machine are let in: 127.0.0.1 (a QEMU guest with user
#       networking reaches the host's loopback as 10.0.2.2) and the
#       machine's own addresses. STATE holds the configuration, the log
#       (STATE/ganesha.log) and NFSv4 recovery data. Needs root (ganesha
#       serves files as their owners). Stop it with SIGTERM.
#
# This is a test bench, not a lab's server: with AUTH_SYS, no root
# squashing and unprivileged client ports allowed (QEMU's user network
# connects from any port), any user of this machine can act as root on the
# exported directories while it runs. Run it on machines whose users you
# trust, or give a lab's worker a real NFS server (README, "NFS roots").
set -euo pipefail

say() { echo "nfs-server: $*" >&2; }
die() { say "error: $*"; exit 1; }

build() {
    local out=$1/nfs debs=$1/debs p want=() PKGS
    # the server, its VFS back end and the libraries the server links that
    # a Debian machine may lack (their names carry versions: asked of apt)
    PKGS="nfs-ganesha nfs-ganesha-vfs $(apt-cache depends nfs-ganesha 2>/dev/null \
        | awk '/Depends: (libntirpc|liburcu|libnfsidmap|libwbclient)/ {print $2}' | sort -u | tr '\n' ' ')"
    case $PKGS in *libntirpc*) ;; *) die "apt-cache cannot resolve nfs-ganesha's libraries (is apt's package list there?)" ;; esac
    mkdir -p "$out" "$debs" "$1/work"
    if [ -x "$out/root/usr/bin/ganesha.nfsd" ] && [ -s "$out/VERSION" ]; then
        say "already built in $out"
        return 0
    fi
    for p in $PKGS; do
        [ -n "$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | head -n 1)" ] || want+=("$p")
    done
    if [ ${#want[@]} -gt 0 ]; then
        say "downloading ${want[*]}"
        (cd "$debs" && timeout 600 apt-get download -q "${want[@]}" >"$1/work/nfs-apt.log" 2>&1) \
            || { grep -v unsandboxed "$1/work/nfs-apt.log" >&2 || true; die "apt-get download failed"; }
    fi
    rm -rf "$out/root"
    for p in $PKGS; do
        dpkg-deb -x "$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | sort | tail -n 1)" "$out/root"
    done
    local missing
    missing=$(LD_LIBRARY_PATH=$out/root/usr/lib/x86_64-linux-gnu:$out/root/usr/lib/ganesha \
        ldd "$out/root/usr/bin/ganesha.nfsd" | awk '/not found/ {print $1}')
    [ -z "$missing" ] || die "ganesha.nfsd needs libraries this machine lacks: $missing"
    echo "nfs-ganesha $(dpkg-deb -f "$(find "$debs" -maxdepth 1 -name 'nfs-ganesha_*.deb' | sort | tail -n 1)" Version)" > "$out/VERSION"
    say "built in $out: $(cat "$out/VERSION")"
}

if [ "${1:-}" = build ] && [ $# -eq 2 ]; then
    build "$(realpath -m "$2")"
    exit 0
fi
[ $# -ge 5 ] && [ "$2" = run ] || die "usage: $0 build LAB | $0 LAB run STATE PORT DIR..."
NFS=$(cd "$1" && pwd)/nfs
STATE=$(realpath -m "$3")
PORT=$4
shift 4
[ -x "$NFS/root/usr/bin/ganesha.nfsd" ] || die "no ganesha in $NFS: run $0 build $1"
[ "$(id -u)" = 0 ] || die "needs root (ganesha serves each file as its owner)"
mkdir -p "$STATE/recovery"
# the clients let in: loopback and the machine's own IPv4 addresses
clients=127.0.0.1
for a in $(hostname -I 2>/dev/null || true); do
    case $a in *:*) ;; *) clients="$clients, $a" ;; esac
done
{
    cat <<EOF
NFS_CORE_PARAM {
    Protocols = 4;
    NFS_Port = $PORT;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Plugins_Dir = "$NFS/root/usr/lib/x86_64-linux-gnu/ganesha";
}
NFSV4 {
    # owners are numbers on the wire: no idmapd, no name service
    UseGetpwnam = true;
    Allow_Numeric_Owners = true;
    Only_Numeric_Owners = true;
    Grace_Period = 0;
    Lease_Lifetime = 10;
    RecoveryBackend = fs;
    RecoveryRoot = "$STATE/recovery";
}
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
EOF
    id=0
    for dir in "$@"; do
        dir=$(cd "$dir" && pwd) || die "no directory $dir"
        id=$((id + 1))
        cat <<EOF
EXPORT {
    Export_Id = $id;
    Path = "$dir";
    Pseudo = "$dir";
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    Access_Type = None;
    Squash = No_Root_Squash;
    CLIENT { Clients = $clients; Access_Type = RW; }
    FSAL { Name = VFS; }
}
EOF
    done
} > "$STATE/ganesha.conf"
export LD_LIBRARY_PATH=$NFS/root/usr/lib/x86_64-linux-gnu:$NFS/root/usr/lib/ganesha
say "serving NFSv4 on port $PORT to $clients: $*"
exec "$NFS/root/usr/bin/ganesha.nfsd" -F -L "$STATE/ganesha.log" -f "$STATE/ganesha.conf" \
    -p "$STATE/ganesha.pid" -N NIV_EVENT
