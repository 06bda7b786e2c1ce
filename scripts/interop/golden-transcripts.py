#!/usr/bin/env python3
"""Golden coordinator transcripts (MultiNode conformance scenario 43; see
scripts/interop/README.md): replay the raw request frames of scenarios
7-21 (plus a few framing cases) against a coordinator and record the raw
reply frames, then compare two recordings byte for byte.

Each scenario runs against a fresh daemon started from a command template
in which {port} is replaced, so a daemon that dies on bad input (LAVA
2020.01's does) only spoils its own scenario.

usage: golden-transcripts.py record OUT.json PORT CMD...
       golden-transcripts.py compare A.json B.json
Not run by CI.
"""
import json
import socket
import subprocess
import sys
import time


def pyjson(value):
    # Python json.dumps defaults: ", " / ": " separators, ASCII only
    return json.dumps(value)


def frame(body_text):
    data = body_text.encode("ascii")
    return b"%08X" % len(data) + data


def base(client, group, role, **extra):
    msg = {
        "port": 3079,
        "blocksize": 4096,
        "poll_delay": 1,
        "host": "localhost",
        "hostname": "worker-" + client,
        "client_name": client,
        "group_name": group,
        "role": role,
    }
    msg.update(extra)
    return msg


def exchange(port, raw, half_close=True, timeout=5.0):
    """One connection: send raw bytes, read everything until close."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return "<connection refused: daemon gone>"
    try:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                chunks.append(b"<TIMEOUT>")
                break
            except ConnectionResetError:
                chunks.append(b"<RESET>")
                break
            if not data:
                break
            chunks.append(data)
        reply = b"".join(chunks)
    finally:
        sock.close()
    return reply.decode("latin-1") if reply else "<closed without reply>"


def wait_port(port, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("daemon exited at start: %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("daemon did not listen on %d" % port)


# --- scenarios: lists of (label, raw bytes) -------------------------------


def req(label, client, group, role, **extra):
    return (label, frame(pyjson(base(client, group, role, **extra))))


def s7():
    g = "g7"
    return [
        req("A group_data", "1", g, "server", request="group_data", group_size=2),
        req("B group_data", "2", g, "client", request="group_data", group_size=2),
        req("A group_data again", "1", g, "server", request="group_data", group_size=2),
    ]


def s8():
    g = "g8"
    nocl = base("1", g, "server", request="group_data", group_size=2)
    del nocl["client_name"]
    noreq = base("1", "g8b", "server", group_size=2)
    return [
        ("no client_name", frame(pyjson(nocl))),
        ("no request key", frame(pyjson(noreq))),
        req("unknown group, no group_size", "1", "g8-none", "server", request="lava_wait", messageID="x"),
        req("group_size 0", "1", "g8-zero", "server", request="group_data", group_size=0),
        req("A registers", "1", g, "server", request="group_data", group_size=2),
        req("request lava-send (dash)", "1", g, "server", request="lava-send", messageID="x", message={"a": "b"}),
        req("unknown request", "1", g, "server", request="frobnicate"),
    ]


def group2(g):
    return [
        req("A group_data", "1", g, "server", request="group_data", group_size=2),
        req("B group_data", "2", g, "client", request="group_data", group_size=2),
    ]


def s9():
    g = "g9"
    return group2(g) + [
        req("A send message null", "1", g, "server", request="lava_send", messageID="m", message=None),
        req("B wait", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s10():
    g = "g10"
    return group2(g) + [
        req("B wait before send", "2", g, "client", request="lava_wait", messageID="ip", nodeID="2"),
        req("A send", "1", g, "server", request="lava_send", messageID="ip", message={"k": "v"}),
        req("B wait", "2", g, "client", request="lava_wait", messageID="ip", nodeID="2"),
        req("A own wait", "1", g, "server", request="lava_wait", messageID="ip", nodeID="1"),
    ]


def s11():
    g = "g11"
    return group2(g) + [
        req("A send", "1", g, "server", request="lava_send", messageID="m", message={"k": "a1"}),
        req("B send", "2", g, "client", request="lava_send", messageID="m", message={"k": "b1"}),
        req("B wait", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
        req("A re-send", "1", g, "server", request="lava_send", messageID="m", message={"k": "a2", "x": "y"}),
        req("B wait", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
        req("A wait", "1", g, "server", request="lava_wait", messageID="m", nodeID="1"),
    ]


def s12():
    g = "g12"
    return group2(g) + [
        req("A wait_all before send", "1", g, "server", request="lava_wait_all", messageID="m"),
        req("B send", "2", g, "client", request="lava_send", messageID="m", message={"b": "1"}),
        req("A wait_all (only B sent)", "1", g, "server", request="lava_wait_all", messageID="m"),
        req("A send", "1", g, "server", request="lava_send", messageID="m", message={"a": "1"}),
        req("A wait_all", "1", g, "server", request="lava_wait_all", messageID="m"),
        req("B wait_all", "2", g, "client", request="lava_wait_all", messageID="m"),
    ]


def group3(g):
    return [
        req("S group_data", "1", g, "server", request="group_data", group_size=3),
        req("C1 group_data", "2", g, "client", request="group_data", group_size=3),
        req("C2 group_data", "3", g, "client", request="group_data", group_size=3),
    ]


def s13():
    g = "g13"
    return group3(g) + [
        req("C1 wait_all server", "2", g, "client", request="lava_wait_all", messageID="m", waitrole="server"),
        req("S send", "1", g, "server", request="lava_send", messageID="m", message={"ip": "10.0.0.5"}),
        req("C1 wait_all server", "2", g, "client", request="lava_wait_all", messageID="m", waitrole="server"),
        req("C2 wait_all server", "3", g, "client", request="lava_wait_all", messageID="m", waitrole="server"),
    ]


def s14():
    g = "g14"
    return group3(g) + [
        req("S wait_all client (none sent)", "1", g, "server", request="lava_wait_all", messageID="m", waitrole="client"),
        req("C1 send", "2", g, "client", request="lava_send", messageID="m", message={"c": "1"}),
        req("S wait_all client (first sent)", "1", g, "server", request="lava_wait_all", messageID="m", waitrole="client"),
        req("C2 send", "3", g, "client", request="lava_send", messageID="m", message={"c": "2"}),
        req("S wait_all client (both sent)", "1", g, "server", request="lava_wait_all", messageID="m", waitrole="client"),
    ]


def s15():
    g = "g15"
    rnd = [
        req("A sync", "1", g, "server", request="lava_sync", messageID="b1"),
        req("B sync", "2", g, "client", request="lava_sync", messageID="b1"),
        req("A sync", "1", g, "server", request="lava_sync", messageID="b1"),
        req("B sync", "2", g, "client", request="lava_sync", messageID="b1"),
    ]
    return group2(g) + rnd + [(l + " (round 2)", r) for l, r in rnd]


def s16():
    g = "g16"
    return group3(g) + [
        req("S sync", "1", g, "server", request="lava_sync", messageID="b"),
        req("C1 sync", "2", g, "client", request="lava_sync", messageID="b"),
        req("S sync", "1", g, "server", request="lava_sync", messageID="b"),
        req("C1 sync", "2", g, "client", request="lava_sync", messageID="b"),
    ]


def s17():
    g = "g17"
    return group2(g) + [
        req("A clear_group", "1", g, "server", request="clear_group", group_size=2),
        req("B clear_group", "2", g, "client", request="clear_group", group_size=2),
        req("A wait after clear", "1", g, "server", request="lava_wait", messageID="m", nodeID="1"),
    ]


def s18():
    g = "g18"
    return group2(g) + [
        req("A send", "1", g, "server", request="lava_send", messageID="m", message={"k": "v"}),
        req("A clear_group", "1", g, "server", request="clear_group", group_size=2),
        req("A clear_group again", "1", g, "server", request="clear_group", group_size=2),
        req("B wait", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s19():
    g = "g19"
    return [
        req("A group_data", "1", g, "server", request="group_data", group_size=2),
        req("B group_data", "2", g, "client", request="group_data", group_size=2),
        req("C (third) group_data", "3", g, "client", request="group_data", group_size=2),
        req("A group_data again", "1", g, "server", request="group_data", group_size=2),
    ]


def s20_waitrole():
    g = "g20a"
    return group2(g) + [
        req("A wait_all unknown role", "1", g, "server", request="lava_wait_all", messageID="m", waitrole="nosuch"),
        req("B wait (daemon alive?)", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s20_nogroup():
    g = "g20b"
    nog = base("1", g, "server", request="group_data", group_size=2)
    del nog["group_name"]
    return group2(g) + [
        ("missing group_name", frame(pyjson(nog))),
        req("B wait (daemon alive?)", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s20_body5():
    g = "g20c"
    return group2(g) + [
        ("body 5", frame("5")),
        req("B wait (daemon alive?)", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s20_send_after_sync():
    g = "g20d"
    return group2(g) + [
        req("A sync s", "1", g, "server", request="lava_sync", messageID="s"),
        req("A send s", "1", g, "server", request="lava_send", messageID="s", message={"k": "v"}),
        req("B wait (daemon alive?)", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s21():
    g = "g21"
    return group2(g) + [
        req("B aggregate sub_id 5.1", "2", g, "client", request="aggregate", bundle="b2", sub_id="5.1"),
        req("A aggregate no bundle", "1", g, "server", request="aggregate", sub_id="5.0"),
        req("A aggregate sub_id 5.0", "1", g, "server", request="aggregate", bundle="b1", sub_id="5.0"),
        req("A aggregate sub_id 5.0", "1", g, "server", request="aggregate", bundle="b1", sub_id="5.0"),
        req("A aggregate sub_id 5.0", "1", g, "server", request="aggregate", bundle="b1", sub_id="5.0"),
        req("A aggregate sub_id 5.0", "1", g, "server", request="aggregate", bundle="b1", sub_id="5.0"),
        req("A complete", "1", g, "server", request="complete"),
        req("B wait (daemon alive?)", "2", g, "client", request="lava_wait", messageID="m", nodeID="2"),
    ]


def s_framing():
    g = "gf"
    return group2(g) + [
        ("bad header zzzzzzzz", b"zzzzzzzz{}"),
        ("non-JSON body", frame("not json")),
        req("non-ASCII message (escaped)", "1", g, "server", request="lava_send", messageID="u", message={"k": "caf\u00e9 \U0001f600"}),
        req("B wait non-ASCII", "2", g, "client", request="lava_wait", messageID="u", nodeID="2"),
        ("lower-case header", frame(pyjson(base("2", g, "client", request="lava_wait", messageID="u", nodeID="2"))).lower()[:8]
         + frame(pyjson(base("2", g, "client", request="lava_wait", messageID="u", nodeID="2")))[8:]),
    ]


SCENARIOS = [
    ("framing-1-4", s_framing),
    ("7", s7), ("8", s8), ("9", s9), ("10", s10), ("11", s11), ("12", s12),
    ("13", s13), ("14", s14), ("15", s15), ("16", s16), ("17", s17),
    ("18", s18), ("19", s19),
    ("20-unknown-waitrole", s20_waitrole), ("20-missing-group_name", s20_nogroup),
    ("20-body-5", s20_body5), ("20-send-after-sync", s20_send_after_sync),
    ("21", s21),
]


def compare(path_a, path_b):
    a = json.load(open(path_a))
    b = json.load(open(path_b))
    same = differ = 0
    for sa, sb in zip(a, b):
        assert sa["scenario"] == sb["scenario"], "recordings of different scenario lists"
        if sa["daemon_alive_after"] != sb["daemon_alive_after"]:
            print("== scenario %s: daemon alive afterwards: %s=%s %s=%s" % (
                sa["scenario"], path_a, sa["daemon_alive_after"], path_b, sb["daemon_alive_after"]))
        for x, y in zip(sa["steps"], sb["steps"]):
            assert x["request"] == y["request"], "recordings of different requests"
            if x["reply"] == y["reply"]:
                same += 1
            else:
                differ += 1
                print('DIFF scenario %s, step "%s"\n   %s: %s\n   %s: %s' % (
                    sa["scenario"], x["label"], path_a, x["reply"], path_b, y["reply"]))
    print("identical replies: %d, differing: %d" % (same, differ))
    return 1 if differ else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    if len(sys.argv) < 5 or sys.argv[1] != "record":
        sys.exit(__doc__)
    out, port, cmd = sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    results = []
    for name, build in SCENARIOS:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            steps = []
            for label, raw in build():
                reply = exchange(port, raw)
                steps.append({"label": label, "request": raw.decode("ascii"), "reply": reply})
            time.sleep(0.2)
            alive = proc.poll() is None
            results.append({"scenario": name, "steps": steps, "daemon_alive_after": alive})
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
