//! The helper scripts installed in `<results dir>/bin` of the overlay
//! (docs/pipeline.md §9.8), written for this project. The overlay prepends
//! `#!<lava_test_sh_cmd>` and a blank line to each.
//!
//! Differences from LAVA's helpers, on purpose (docs/pipeline.md §14):
//! `lava-test-runner` does not rename its list (a retried test block runs
//! its tests again) and reads the list on its own descriptor (a test that
//! reads standard input cannot swallow it); `lava-background-process-start`
//! starts its command once instead of every second.

/// `(name, body)` of every generic helper.
pub const GENERIC: &[(&str, &str)] = &[
    ("lava-common-functions", COMMON),
    ("lava-test-runner", RUNNER),
    ("lava-test-shell", SHELL),
    ("lava-test-case", CASE),
    ("lava-test-set", SET),
    ("lava-test-reference", REFERENCE),
    ("lava-test-raise", RAISE),
    ("lava-test-event", EVENT),
    ("lava-test-feedback", FEEDBACK),
    ("lava-background-process-start", BG_START),
    ("lava-background-process-stop", BG_STOP),
    ("lava-install-packages", INSTALL_GENERIC),
    ("lava-installed-packages", UNSUPPORTED),
    ("lava-add-keys", UNSUPPORTED),
    ("lava-add-sources", UNSUPPORTED),
    ("lava-os-build", OS_BUILD),
    ("lava-echo-ipv4", ECHO_IPV4),
    ("lava-target-ip", "echo \"$TARGET_DEVICE_IP\"\n"),
    ("lava-target-mac", "echo \"$TARGET_DEVICE_MAC\"\n"),
    ("lava-probe-ip", "echo \"$PROBE_DEVICE_IP\"\n"),
    ("lava-probe-channel", "echo \"$PROBE_DEVICE_CHANNEL\"\n"),
    ("lava-target-storage", STORAGE),
];

/// The package manager command line of a distribution (`distro` of the
/// OS table), for `lava-install-packages`.
pub fn installer(distro: &str) -> Option<&'static str> {
    match distro {
        "debian" | "ubuntu" => {
            Some("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q")
        }
        "fedora" => Some("dnf install -y"),
        "centos" => Some("yum install -y"),
        "oe" => Some("opkg update && opkg install"),
        "archlinux" => Some("pacman -Sy --noconfirm"),
        _ => None,
    }
}

/// `lava-install-packages` for a distribution with a package manager:
/// retried with a growing pause.
pub fn install_script(command: &str) -> String {
    format!(
        "# lava-install-packages PKG...: install packages, retrying a failed attempt\n\
         [ $# -gt 0 ] || exit 0\n\
         pause=10\n\
         for attempt in 1 2 3 4 5; do\n\
         \x20   if sh -c '{command} \"$@\"' lava-install-packages \"$@\"; then exit 0; fi\n\
         \x20   echo \"lava-install-packages: attempt $attempt failed\" >&2\n\
         \x20   sleep $pause; pause=$((pause * 2))\n\
         done\n\
         exit 1\n"
    )
}

const COMMON: &str = r#"# Sourced by the other helpers: how a signal reaches the dispatcher.
# With KMSG set (lava-signal: kmsg) the signal goes through the kernel log,
# which reaches the console even when standard output does not.
lava_signal() {
    _lava_name=$1
    shift
    if [ -n "$KMSG" ] && [ -w /dev/kmsg ]; then
        printf '<0><LAVA_SIGNAL_%s %s>\n' "$_lava_name" "$*" > /dev/kmsg
    else
        printf '<LAVA_SIGNAL_%s %s>\n' "$_lava_name" "$*"
    fi
}
"#;

const RUNNER: &str = r#"# lava-test-runner STAGE_DIR: run each test directory listed in
# STAGE_DIR/lava-test-runner.conf: install.sh (if any), then run.sh through
# lava-test-shell. Prints <LAVA_TEST_RUNNER EXIT> when it ends, however it ends.
STAGE=$1
if [ -z "$STAGE" ] || [ ! -f "$STAGE/lava-test-runner.conf" ]; then
    echo "usage: lava-test-runner STAGE_DIR (with STAGE_DIR/lava-test-runner.conf)" >&2
    echo "<LAVA_TEST_RUNNER EXIT>"
    exit 2
fi
trap 'echo "<LAVA_TEST_RUNNER EXIT>"' EXIT
BIN=$(cd "$(dirname "$0")" && pwd)
PATH="$BIN:$PATH"
export PATH
mkdir -p "$STAGE/results"
exec 3< "$STAGE/lava-test-runner.conf"
while read -r testdir <&3; do
    case "$testdir" in
        ''|*LAVA_SIGNAL*) continue ;;
    esac
    odir="$STAGE/results/$(basename "$testdir")-$(date +%s)"
    mkdir -p "$odir"
    if [ -f "$testdir/install.sh" ]; then
        /bin/sh "$testdir/install.sh"
        rc=$?
        echo "$rc" > "$odir/install_return_code"
        if [ "$rc" -ne 0 ]; then
            echo "<LAVA_TEST_RUNNER INSTALL_FAIL>"
            continue
        fi
    fi
    lava-test-shell --output_dir "$odir" "${SHELL:-/bin/sh}" -e "$testdir/run.sh"
done
exec 3<&-
"#;

const SHELL: &str = r#"# lava-test-shell --output_dir DIR CMD...: run CMD with LAVA_RESULT_DIR=DIR
# and keep its exit code in DIR/return_code.
if [ "$1" != "--output_dir" ] || [ -z "$2" ]; then
    echo "usage: lava-test-shell --output_dir DIR CMD..." >&2
    exit 2
fi
LAVA_RESULT_DIR=$2
export LAVA_RESULT_DIR
shift 2
mkdir -p "$LAVA_RESULT_DIR"
"$@"
rc=$?
echo "$rc" > "$LAVA_RESULT_DIR/return_code"
exit "$rc"
"#;

const CASE: &str = r#"# lava-test-case ID --shell CMD...
# lava-test-case ID --result pass|fail|skip|unknown [--measurement M] [--units U]
# Records one test case; a failing case does not fail the calling script.
. "$(dirname "$0")/lava-common-functions"
usage() {
    echo "usage: lava-test-case ID --shell CMD... | ID --result RESULT [--measurement M] [--units U]" >&2
    exit 1
}
[ $# -ge 2 ] || usage
ID=$1
shift
RESULT=
MEASUREMENT=
UNITS=
if [ "$1" = "--shell" ]; then
    shift
    lava_signal STARTTC "$ID"
    eval "$*"
    rc=$?
    lava_signal ENDTC "$ID"
    if [ "$rc" -eq 0 ]; then RESULT=pass; else RESULT=fail; fi
else
    while [ $# -gt 0 ]; do
        case "$1" in
            --result) RESULT=$2; shift 2 ;;
            --measurement) MEASUREMENT=$2; shift 2 ;;
            --units) UNITS=$2; shift 2 ;;
            *) usage ;;
        esac
    done
fi
[ -n "$RESULT" ] || usage
if [ -n "$LAVA_RESULT_DIR" ]; then
    dir="$LAVA_RESULT_DIR/results/$ID"
    mkdir -p "$dir"
    echo "$RESULT" > "$dir/result"
    [ -z "$MEASUREMENT" ] || echo "$MEASUREMENT" > "$dir/measurement"
    [ -z "$UNITS" ] || echo "$UNITS" > "$dir/units"
fi
lava_signal TESTCASE "TEST_CASE_ID=$ID RESULT=$RESULT${UNITS:+ UNITS=$UNITS}${MEASUREMENT:+ MEASUREMENT=$MEASUREMENT}"
exit 0
"#;

const SET: &str = r#"# lava-test-set start NAME | lava-test-set stop: group the following test cases.
. "$(dirname "$0")/lava-common-functions"
case "$1" in
    start)
        [ -n "$2" ] || { echo "usage: lava-test-set start NAME" >&2; exit 1; }
        lava_signal TESTSET "START $2" ;;
    stop) lava_signal TESTSET STOP ;;
    *) echo "usage: lava-test-set start NAME | stop" >&2; exit 1 ;;
esac
"#;

const REFERENCE: &str = r#"# lava-test-reference ID --result RESULT --reference URL
. "$(dirname "$0")/lava-common-functions"
ID=$1
[ -n "$ID" ] && [ "$2" = "--result" ] && [ -n "$3" ] && [ "$4" = "--reference" ] && [ -n "$5" ] || {
    echo "usage: lava-test-reference ID --result RESULT --reference URL" >&2
    exit 1
}
lava_signal TESTREFERENCE "$ID $3 $5"
"#;

const RAISE: &str = r#"# lava-test-raise MESSAGE...: stop the test action with an error.
. "$(dirname "$0")/lava-common-functions"
lava_signal TESTRAISE "$*"
exit 1
"#;

const EVENT: &str = r#"# lava-test-event MESSAGE: publish an event.
. "$(dirname "$0")/lava-common-functions"
[ $# -eq 1 ] || { echo "usage: lava-test-event MESSAGE" >&2; exit 1; }
lava_signal TESTEVENT "$1"
"#;

const FEEDBACK: &str = r#"# lava-test-feedback --namespace NS: ask the dispatcher to read NS's console.
. "$(dirname "$0")/lava-common-functions"
[ "$1" = "--namespace" ] && [ -n "$2" ] || { echo "usage: lava-test-feedback --namespace NS" >&2; exit 1; }
lava_signal TESTFEEDBACK "$2"
"#;

const BG_START: &str = r#"# lava-background-process-start NAME --cmd CMD...: start CMD in the
# background (once) and remember its process id under NAME.
NAME=$1
[ -n "$NAME" ] && [ "$2" = "--cmd" ] || { echo "usage: lava-background-process-start NAME --cmd CMD..." >&2; exit 1; }
shift 2
dir="${LAVA_RESULT_DIR:-/tmp}/background"
mkdir -p "$dir"
sh -c "$*" > "$dir/$NAME.log" 2>&1 &
echo $! > "$dir/$NAME.pid"
"#;

const BG_STOP: &str = r#"# lava-background-process-stop NAME: stop what lava-background-process-start NAME started.
NAME=$1
[ -n "$NAME" ] || { echo "usage: lava-background-process-stop NAME" >&2; exit 1; }
pidfile="${LAVA_RESULT_DIR:-/tmp}/background/$NAME.pid"
[ -f "$pidfile" ] || { echo "lava-background-process-stop: no process named $NAME" >&2; exit 1; }
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
fi
rm -f "$pidfile"
"#;

const INSTALL_GENERIC: &str = r#"# lava-install-packages PKG...: this distribution has no known package
# manager; the test must rely on what the image provides.
[ $# -gt 0 ] || exit 0
echo "lava-install-packages: unsupported distribution, not installing: $*" >&2
exit 0
"#;

const UNSUPPORTED: &str = r#"# Not supported for this distribution.
echo "$(basename "$0"): unsupported distribution" >&2
exit 0
"#;

const OS_BUILD: &str = r#"# lava-os-build: describe the operating system.
if [ -r /etc/os-release ]; then
    . /etc/os-release
    echo "${PRETTY_NAME:-$NAME $VERSION}"
elif command -v lsb_release >/dev/null 2>&1; then
    lsb_release -d -s
else
    uname -sr
fi
"#;

const ECHO_IPV4: &str = r#"# lava-echo-ipv4 IFACE: print the interface's IPv4 address.
[ -n "$1" ] || { echo "usage: lava-echo-ipv4 IFACE" >&2; exit 1; }
if command -v ip >/dev/null 2>&1; then
    ip -4 addr show dev "$1" 2>/dev/null | sed -n 's/.*inet \([0-9.]*\).*/\1/p' | head -n 1
else
    ifconfig "$1" 2>/dev/null | sed -n 's/.*inet \(addr:\)\{0,1\}\([0-9.]*\).*/\2/p' | head -n 1
fi
"#;

const STORAGE: &str = r#"# lava-target-storage [METHOD]: the device's storage, one TAB METHOD TAB ID
# line each; with METHOD, only the ids of that method.
if [ -z "$1" ]; then
    printf '%b' "$LAVA_STORAGE"
    exit 0
fi
found=$(printf '%b' "$LAVA_STORAGE" | awk -F '\t' -v m="$1" '$2 == m { print $3 }')
[ -n "$found" ] || exit 1
echo "$found"
"#;
