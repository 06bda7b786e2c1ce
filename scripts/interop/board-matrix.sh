#!/bin/sh
# MultiNode interoperability with LAVA 2020.01 on pretend boards
# (conformance scenarios 38-40; see scripts/interop/README.md). Not run by CI.
#
# Every combination of
#   coordinator: LAVA 2020.01's daemon | ours (default mode: lava2020, auth off)
#   lava-run:    both LAVA's | LAVA server + our client | our server + LAVA client | both ours
#   job:         plain | delayed start (client: request: lava-start, expect_role: server)
# runs a 2-node group (job 12 = server, job 13 = client) whose boards are
# lava-pipeline/tests/fixtures/board.sh (a POSIX shell on a pty); the test
# shells use lava-send, lava-wait, lava-wait-all (with and without a role)
# and lava-sync, and check the data they received.
#
# Needs: a LAVA 2020.01 source tree with a Python venv that imports
# lava_dispatcher (LAVA_TREE, default ../lava-2020.01; LAVA_PY, default
# $LAVA_TREE/venv/bin/python); our binaries built (cargo build -p lava-bins
# --bin lava-run --bin lava-coordinator); root, because LAVA's lava-run reads
# only /etc/lava-coordinator/lava-coordinator.conf: the script creates that
# file (refusing if it already exists) and removes it on exit.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LAVA_TREE=${LAVA_TREE:-../lava-2020.01}
LAVA_PY=${LAVA_PY:-$LAVA_TREE/venv/bin/python}
BIN=${BIN:-$REPO/target/debug}
LAVA_PORT=${LAVA_PORT:-3179}
OUR_PORT=${OUR_PORT:-3279}
ETC=/etc/lava-coordinator
WORK=$(mktemp -d /tmp/lava-interop.XXXXXX)
echo "work directory: $WORK"

[ -e "$ETC/lava-coordinator.conf" ] && {
    echo "$ETC/lava-coordinator.conf exists: not touching it" >&2
    exit 2
}
CREATED_ETC=
[ -d "$ETC" ] || CREATED_ETC=1
PIDS=
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    rm -f "$ETC/lava-coordinator.conf"
    [ -n "$CREATED_ETC" ] && rmdir "$ETC" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
mkdir -p "$ETC"

conf() { printf '{"port": %s, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1"}\n' "$1"; }
conf "$LAVA_PORT" > "$WORK/lava.conf"
conf "$OUR_PORT" > "$WORK/ours.conf"

PYTHONPATH=$LAVA_TREE "$LAVA_PY" "$LAVA_TREE/lava/coordinator/lava-coordinator" \
    --config "$WORK/lava.conf" --logfile "$WORK/lava-coordinator.log" --loglevel DEBUG &
PIDS="$PIDS $!"
"$BIN/lava-coordinator" --config "$WORK/ours.conf" --logfile "$WORK/our-coordinator.log" \
    --loglevel DEBUG &
PIDS="$PIDS $!"
python3 - "$LAVA_PORT" "$OUR_PORT" <<'PY'
import socket, sys, time
for port in map(int, sys.argv[1:]):
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("no coordinator listening on port %d" % port)
            time.sleep(0.1)
PY

# LAVA's transfer_overlay gives the board an http://<dispatcher>/tmp/<job>/...
# URL; the pretend boards share the worker's file system, so map it to
# LAVA's temporary directory.
cat > "$WORK/fetch" <<'EOF'
#!/bin/sh
cp "/var/lib/lava/dispatcher/${1#http://*/}" .
EOF
chmod +x "$WORK/fetch"

for id in 12 13; do
    mkdir -p "$WORK/home-$id"
    cat > "$WORK/device-$id.yaml" <<EOF
commands:
  connect: env BOARD_HOME=$WORK/home-$id bash $REPO/lava-pipeline/tests/fixtures/board.sh
constants:
  shutdown-message: "The system is going down for reboot NOW"
  kernel-start-message: 'Linux version [0-9]'
  default-shell-prompt: "lava-test: # "
  spawn_maxread: '4092'
  posix:
    lava_test_sh_cmd: /bin/sh
    lava_test_results_dir: $WORK/root/lava-%s
    lava_test_shell_file: ~/.bashrc
actions:
  deploy:
    methods:
      overlay:
  boot:
    connections:
      serial:
    methods:
      minimal:
timeouts:
  actions:
    power-off: {seconds: 5}
  connections:
    lava-test-shell: {seconds: 2}
EOF
done

# job ROLE GROUP DOWNLOAD_COMMAND EXTRA_PROTOCOL STEPS...
job() {
    role=$1 group=$2 download=$3 extra=$4; shift 4
    cat <<EOF
job_name: interop $role
timeouts: {job: {minutes: 3}, action: {seconds: 60}}
priority: medium
visibility: public
protocols:
  lava-multinode:
    target_group: $group
    role: $role
    group_size: 2
    sub_id: 0
    roles: {'12': server, '13': client}
    role_names: [server, client]
    timeout: {seconds: 15}
$extra
actions:
- deploy: {to: overlay, role: [$role]}
- boot:
    role: [$role]
    method: minimal
    reset: false
    prompts: ['root@board:~# ']
    transfer_overlay: {download_command: $download, unpack_command: tar -C / -xzf}
- test:
    role: [$role]
    timeout: {minutes: 2}
    definitions:
    - from: inline
      name: $role
      path: inline/$role.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: $role, description: $role}
        run:
          steps:
EOF
    for step in "$@"; do printf '          - %s\n' "$step"; done
}

# run_one DIR GROUP CONF KIND LAVA_FOR  (LAVA_FOR: both|server|client|none)
run_one() {
    dir=$1 group=$2 conf=$3 kind=$4 lava_for=$5
    mkdir -p "$dir/tmp"; rm -rf "$WORK/root"
    jobs_pids=
    printf 'tmp_url: %s\n' "$dir/tmp" > "$dir/dispatcher.yaml"
    start= delayed=
    if [ "$kind" = ds ]; then
        start="lava-send lava_start"
        delayed="    request: lava-start
    expect_role: server"
    fi
    for id in 12 13; do
        if [ $id = 12 ]; then role=server; else role=client; fi
        lava=
        case $lava_for in both|$role) lava=1 ;; esac
        download="cp -t ."; [ -n "$lava" ] && download="$WORK/fetch"
        if [ $role = server ]; then
            job server "$group" "$download" "" ${start:+"$start"} \
                "lava-send ready ip=10.0.0.5 port=22" "lava-send all s=1" "lava-wait-all all" \
                "lava-test-case all-has-client --shell grep -q 13:c=2 /tmp/lava_multi_node_cache.txt" \
                "lava-sync done" > "$dir/$role.yaml"
        else
            job client "$group" "$download" "$delayed" "lava-wait ready" \
                "lava-test-case got-ip --shell grep -q 12:ip=10.0.0.5 /tmp/lava_multi_node_cache.txt" \
                "lava-wait-all ready server" "lava-send all c=2" "lava-wait-all all" \
                "lava-test-case all-has-server --shell grep -q 12:s=1 /tmp/lava_multi_node_cache.txt" \
                "lava-sync done" > "$dir/$role.yaml"
        fi
        if [ -n "$lava" ]; then
            ( cd "$LAVA_TREE" && PYTHONPATH=$LAVA_TREE timeout 150 "$LAVA_PY" lava/dispatcher/lava-run \
                  --job-id $id --output-dir "$dir/out-$id" --device "$WORK/device-$id.yaml" \
                  "$dir/$role.yaml" > /dev/null 2> "$dir/log-$id"
              echo "$role=LAVA:$?" > "$dir/rc-$id" ) &
            jobs_pids="$jobs_pids $!"
        else
            ( LAVA_COORDINATOR_CONF=$conf timeout 150 "$BIN/lava-run" --job-id $id \
                  --output-dir "$dir/out-$id" --device "$WORK/device-$id.yaml" \
                  --dispatcher "$dir/dispatcher.yaml" --tmp-dir "$dir/tmp" \
                  "$dir/$role.yaml" > "$dir/log-$id" 2>&1
              echo "$role=ours:$?" > "$dir/rc-$id" ) &
            jobs_pids="$jobs_pids $!"
        fi
    done
    # not a bare `wait`: the coordinators are children too
    for pid in $jobs_pids; do wait "$pid"; done
}

failed=0
for coordinator in lava ours; do
    cp "$WORK/$coordinator.conf" "$ETC/lava-coordinator.conf"
    for kind in plain ds; do
        for lava_for in both server client none; do
            name=$coordinator-$kind-$lava_for
            run_one "$WORK/$name" "interop-$$-$name" "$WORK/$coordinator.conf" $kind $lava_for
            rc=$(cat "$WORK/$name/rc-12" "$WORK/$name/rc-13" | tr '\n' ' ')
            pass=$(grep -ah '"lvl": "results"' "$WORK/$name"/log-1? | grep -v '"definition": "lava"' \
                | grep -c '"result": "pass"' || true)
            fail=$(grep -ah '"lvl": "results"' "$WORK/$name"/log-1? | grep -c '"result": "fail"' || true)
            want=12; [ $kind = ds ] && want=13
            verdict=ok
            case "$rc" in *:[1-9]*) verdict=FAILED ;; esac
            [ "$pass" = $want ] && [ "$fail" = 0 ] || verdict=FAILED
            [ $verdict = ok ] || failed=1
            echo "coordinator=$coordinator job=$kind lava-run: $rc test cases passed=$pass/$want failed=$fail: $verdict"
        done
    done
done
echo "logs: $WORK"
exit $failed
