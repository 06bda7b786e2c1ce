//! The MultiNode helpers on a fake DUT: the scripts installed in a
//! temporary results directory, run by real shells (`sh`, and `busybox
//! sh` when busybox is installed) with lava-run's side played through
//! pipes: the test reads the request line the helper prints, then types
//! the answer on its standard input (docs/pipeline.md §12; conformance
//! scenarios 27-33 of the MultiNode specification). Also: what
//! `lava-multinode-overlay` installs, and for which jobs.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use lava_pipeline::unstable::actions::deploy::multinode::{
    self, multinode_scripts, CACHE_FILE, SCRIPTS,
};
use lava_pipeline::{ErrorKind, Job, JobInputs, Registry};

const DEADLINE: Duration = Duration::from_secs(20);
const NETWORK_CACHE: &str = "/tmp/lava_multi_node_network_cache.txt";

fn roles() -> Vec<(String, String)> {
    [("1234", "server"), ("1235", "client"), ("1236", "client")]
        .iter()
        .map(|(i, r)| (i.to_string(), r.to_string()))
        .collect()
}

/// A shell to run the helpers with, and the `#!` command for helpers
/// that run other helpers.
#[derive(Debug, Clone)]
struct Shell {
    name: &'static str,
    program: PathBuf,
    args: Vec<&'static str>,
    sh_cmd: String,
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

fn shells() -> Vec<Shell> {
    let mut shells = vec![Shell {
        name: "sh",
        program: "/bin/sh".into(),
        args: vec![],
        sh_cmd: "/bin/sh".into(),
    }];
    match which("busybox") {
        Some(busybox) => shells.push(Shell {
            name: "busybox",
            sh_cmd: format!("{} sh", busybox.display()),
            program: busybox,
            args: vec!["sh"],
        }),
        None => eprintln!("busybox not installed: the helpers are only run with /bin/sh"),
    }
    shells
}

/// A results directory holding the helpers of member 1235 (role client) of
/// a 3-member group, with the cache files moved into the directory.
struct Dut {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    shell: Shell,
}

impl Dut {
    fn new(shell: &Shell) -> Dut {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lava-1235");
        let results = root.display().to_string();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let cache = root.join("cache").join("cache.txt");
        let net = root.join("net-cache.txt");
        for (name, text) in multinode_scripts("client", "1235", &roles(), &results, &shell.sh_cmd) {
            let text = text
                .replace(CACHE_FILE, &cache.display().to_string())
                .replace(NETWORK_CACHE, &net.display().to_string());
            let path = bin.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Dut {
            _tmp: tmp,
            root,
            shell: shell.clone(),
        }
    }

    fn cache(&self) -> PathBuf {
        self.root.join("cache").join("cache.txt")
    }

    fn net_cache(&self) -> PathBuf {
        self.root.join("net-cache.txt")
    }

    fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.shell.program);
        cmd.args(&self.shell.args)
            .arg(self.root.join("bin").join(script))
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Run `script` with `input` on its standard input (then closed).
    fn run(&self, script: &str, args: &[&str], input: &str) -> Out {
        let mut child = self.command(script, args).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Start `script`, lava-run's side of the console in the test's hands.
    fn start(&self, script: &str, args: &[&str]) -> Running {
        let mut child = self.command(script, args).spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            stdin,
            lines,
            shell: self.shell.name,
        }
    }
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    shell: &'static str,
}

impl Running {
    /// The next line the helper prints on standard output.
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("[{}] no line from the helper: {e}", self.shell))
    }

    /// Type `text` on the helper's standard input.
    fn type_text(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Close standard input; the exit code, the rest of standard output and
    /// standard error.
    fn finish(mut self) -> Out {
        drop(self.stdin.take());
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        let stdout: Vec<String> = self.lines.try_iter().collect();
        Out {
            code,
            stdout: stdout.iter().map(|l| format!("{l}\n")).collect(),
            stderr,
        }
    }
}

/// lava-run's regular expression for requests (docs/pipeline.md §12.4).
fn requests(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"<LAVA_MULTI_NODE> <LAVA_(\S+) ([^>]+)>").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn the_preambles_are_lavas() {
    let scripts = multinode_scripts("client", "1235", &roles(), "/lava-1235", "/bin/sh");
    let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "lava-send",
            "lava-wait",
            "lava-wait-all",
            "lava-sync",
            "lava-group",
            "lava-role",
            "lava-self",
            "lava-network"
        ]
    );
    assert_eq!(SCRIPTS.len(), names.len());
    let text = |name: &str| &scripts.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(text("lava-group").starts_with(
        "#!/bin/sh\n\nLAVA_GROUP=\"\\t1234\\tserver\\n\\t1235\\tclient\\n\\t1236\\tclient\\n\"\n#"
    ));
    assert!(text("lava-role").starts_with("#!/bin/sh\n\nTARGET_ROLE='client'\n#"));
    assert!(text("lava-self").starts_with("#!/bin/sh\n\nLAVA_HOSTNAME='1235'\n#"));
    for name in [
        "lava-send",
        "lava-wait",
        "lava-wait-all",
        "lava-sync",
        "lava-network",
    ] {
        assert!(
            text(name).starts_with(
                "#!/bin/sh\n\nLAVA_TEST_BIN='/lava-1235/bin'\n\
                 LAVA_MULTI_NODE_CACHE='/tmp/lava_multi_node_cache.txt'\n\
                 LAVA_MULTI_NODE_DEBUG='yes'\n#"
            ),
            "{name}"
        );
    }
    // shell-special characters in names are escaped
    let odd = vec![("7".to_string(), "a$b\"c`d\\e".to_string())];
    let scripts = multinode_scripts("it's", "7", &odd, "/r/", "/bin/sh");
    let text = |name: &str| &scripts.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(text("lava-group").contains("LAVA_GROUP=\"\\t7\\ta\\$b\\\"c\\`d\\\\\\\\e\\n\"\n"));
    assert!(text("lava-role").contains("TARGET_ROLE='it'\"'\"'s'\n"));
    assert!(text("lava-send").contains("LAVA_TEST_BIN='/r/bin'\n"));
}

/// Scenario 27.
#[test]
fn lava_send_prints_the_request_line() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        let out = dut.run("lava-send", &["id", "a=1", "b=2"], "");
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert_eq!(
            out.stdout, "<LAVA_MULTI_NODE> <LAVA_SEND id a=1 b=2 >\n",
            "[{name}]"
        );
        let out = dut.run("lava-send", &["id"], "");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "<LAVA_MULTI_NODE> <LAVA_SEND id >\n"),
            "[{name}]"
        );
        // only KEY=VALUE words, never glob-expanded; words split as LAVA's
        std::fs::write(dut.root.join("q=zzz"), "").unwrap();
        let out = dut.run(
            "lava-send",
            &[
                "ip", "x=", "=y", "a=b=c", "q=*", "p=<x>", "m=1 n=2", "plain",
            ],
            "",
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "<LAVA_MULTI_NODE> <LAVA_SEND ip a=b=c q=* m=1 n=2 >\n"),
            "[{name}] {out:?}"
        );
        assert!(requests(&out.stderr).is_empty(), "[{name}] {}", out.stderr);
        // a bad or missing message ID: exit 1, nothing for lava-run
        for args in [&["a=b"][..], &[""], &[], &["a b"], &["<x>"]] {
            let out = dut.run("lava-send", args, "");
            assert_eq!(out.code, 1, "[{name}] {args:?} {out:?}");
            assert_eq!(out.stdout, "", "[{name}] {args:?}");
            assert!(requests(&out.stderr).is_empty(), "[{name}] {}", out.stderr);
        }
    }
}

/// Scenario 28: the request, noise and other replies ignored, the answer
/// parsed into the cache.
#[test]
fn lava_wait_reads_the_answer_into_the_cache() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        std::fs::create_dir_all(dut.cache().parent().unwrap()).unwrap();
        std::fs::write(dut.cache(), "old:data=1\n").unwrap();
        let mut wait = dut.start("lava-wait", &["ipv4"]);
        assert_eq!(
            wait.next_line(),
            "<LAVA_MULTI_NODE> <LAVA_WAIT ipv4>",
            "[{name}]"
        );
        wait.type_text("\nnoise\n<LAVA_WAIT_ALL_COMPLETE 9:x=y>\n<LAVA_SYNC_COMPLETE>\n");
        wait.type_text("<LAVA_WAIT_COMPLETE 1234:ip=10.0.0.5>\n\n\n");
        let out = wait.finish();
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert_eq!(out.stdout, "", "[{name}]");
        assert_eq!(
            std::fs::read_to_string(dut.cache()).unwrap(),
            "1234:ip=10.0.0.5\n",
            "[{name}]"
        );
        // debug lines are not requests
        assert!(
            out.stderr.contains("<LAVA_WAIT_DEBUG "),
            "[{name}] {}",
            out.stderr
        );
        assert!(requests(&out.stderr).is_empty(), "[{name}] {}", out.stderr);

        // several senders and keys; a CR line end; the answer after other text;
        // glob characters and backslashes kept as they are
        std::fs::write(dut.root.join("1234:k=zzz"), "").unwrap();
        let out = dut.run(
            "lava-wait",
            &["id"],
            "# <LAVA_WAIT_COMPLETE 1234:k=* 1234:b=x\\y 1236:ip=10.0.0.6>\r\n",
        );
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert_eq!(out.stdout, "<LAVA_MULTI_NODE> <LAVA_WAIT id>\n", "[{name}]");
        assert_eq!(
            std::fs::read_to_string(dut.cache()).unwrap(),
            "1234:k=*\n1234:b=x\\y\n1236:ip=10.0.0.6\n",
            "[{name}]"
        );
        // a sender without data: an empty answer, no cache file
        let out = dut.run("lava-wait", &["id"], "<LAVA_WAIT_COMPLETE>\n");
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert!(!dut.cache().exists(), "[{name}]");
    }
}

/// Scenario 29 and ours of scenario 31: `nack` ends the helper with 1.
#[test]
fn a_nack_answer_exits_1() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        let mut wait = dut.start("lava-wait-all", &["clients", "client"]);
        assert_eq!(
            wait.next_line(),
            "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL clients client>",
            "[{name}]"
        );
        wait.type_text("<LAVA_WAIT_ALL_COMPLETE nack>\n\n");
        let out = wait.finish();
        assert_eq!(out.code, 1, "[{name}] {out:?}");
        assert!(out.stderr.contains("nack"), "[{name}] {}", out.stderr);
        assert!(!dut.cache().exists(), "[{name}]");

        let out = dut.run(
            "lava-wait-all",
            &["all"],
            "<LAVA_WAIT_ALL_COMPLETE 1234:a=1 1235:a=2>\n",
        );
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert_eq!(
            out.stdout, "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL all>\n",
            "[{name}]"
        );
        assert_eq!(
            std::fs::read_to_string(dut.cache()).unwrap(),
            "1234:a=1\n1235:a=2\n"
        );
        let out = dut.run("lava-wait", &["ipv4"], "<LAVA_WAIT_COMPLETE nack>\n");
        assert_eq!(out.code, 1, "[{name}] {out:?}");
        let out = dut.run("lava-sync", &["s"], "<LAVA_SYNC_COMPLETE nack>\n");
        assert_eq!(out.code, 1, "[{name}] {out:?}");
    }
}

/// Scenario 30: lava-sync and the cache (LAVA's quirk: emptied).
#[test]
fn lava_sync_waits_and_removes_the_cache() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        std::fs::create_dir_all(dut.cache().parent().unwrap()).unwrap();
        std::fs::write(dut.cache(), "1234:ip=10.0.0.5\n").unwrap();
        let mut sync = dut.start("lava-sync", &["Foo"]);
        assert_eq!(
            sync.next_line(),
            "<LAVA_MULTI_NODE> <LAVA_SYNC Foo>",
            "[{name}]"
        );
        assert!(
            dut.cache().exists(),
            "[{name}] the cache goes with the answer"
        );
        sync.type_text("<LAVA_SYNC_COMPLETE>\n\n");
        let out = sync.finish();
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert!(!dut.cache().exists(), "[{name}]");
    }
}

#[test]
fn no_answer_before_the_end_of_input_is_an_error() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        for (script, args) in [
            ("lava-wait", &["x"][..]),
            ("lava-wait-all", &["x"]),
            ("lava-sync", &["x"]),
        ] {
            let out = dut.run(script, args, "unrelated\n<LAVA_WAIT_COMPLETEX 1:a=b>\n");
            assert_eq!(out.code, 1, "[{name}] {script} {out:?}");
            assert_eq!(requests(&out.stdout).len(), 1, "[{name}] {script}");
        }
        for (script, args) in [
            ("lava-wait", &[][..]),
            ("lava-wait", &["a", "b"]),
            ("lava-wait", &["a=b"]),
            ("lava-wait-all", &["a", "b c"]),
            ("lava-wait-all", &["a", "b", "c"]),
            ("lava-sync", &[]),
        ] {
            let out = dut.run(script, args, "<LAVA_WAIT_COMPLETE>\n");
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (1, ""),
                "[{name}] {script} {args:?}"
            );
        }
    }
}

/// Scenario 32: byte for byte LAVA 2020.01's output, for member 1235.
#[test]
fn group_role_and_self_print_what_lava_prints() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        let check = |script: &str, args: &[&str], code: i32, stdout: &str| {
            let out = dut.run(script, args, "");
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (code, stdout),
                "[{name}] {script} {args:?}: {}",
                out.stderr
            );
        };
        check(
            "lava-group",
            &[],
            0,
            "\t1234\tserver\n\t1235\tclient\n\t1236\tclient\n",
        );
        check("lava-group", &["client"], 0, "\t1235\n\t1236");
        check("lava-group", &["server"], 0, "\t1234");
        check("lava-group", &["serv"], 1, "");
        check("lava-group", &["nobody"], 1, "");
        check("lava-group", &["cli.*"], 0, "\t1235\n\t1236");
        check("lava-role", &[], 0, "client");
        check("lava-role", &["list"], 0, "1234\n1235\n1236\n");
        check("lava-self", &[], 0, "1235\n");
    }
}

/// `lava-network broadcast`: one LAVA_SEND network_info request with the
/// documented keys (here for the loopback interface).
#[test]
fn lava_network_broadcast_sends_the_documented_keys() {
    if which("ip").is_none() && which("ifconfig").is_none() {
        eprintln!("neither ip nor ifconfig: skipped");
        return;
    }
    let keys = [
        "ipv4",
        "netmask",
        "broadcast",
        "ipv6",
        "mac",
        "hostname",
        "hostname-full",
        "default-gateway",
        "dns_1",
        "dns_2",
        "dns_3",
    ];
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        let out = dut.run("lava-network", &["broadcast", "lo"], "");
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        let line = out.stdout.trim_end_matches('\n');
        assert_eq!(requests(&out.stdout), [line], "[{name}]");
        let words = line
            .strip_prefix("<LAVA_MULTI_NODE> <LAVA_SEND network_info ")
            .and_then(|l| l.strip_suffix(" >"))
            .unwrap_or_else(|| panic!("[{name}] {line}"));
        let pairs: Vec<(&str, &str)> = words
            .split(' ')
            .map(|w| w.split_once('=').unwrap())
            .collect();
        for (key, value) in &pairs {
            assert!(keys.contains(key), "[{name}] unknown key {key}");
            assert!(!value.is_empty(), "[{name}] {key}");
        }
        let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(get("ipv4"), Some("127.0.0.1"), "[{name}] {line}");
        assert_eq!(get("netmask"), Some("255.0.0.0"), "[{name}] {line}");
        assert!(get("hostname").is_some(), "[{name}] {line}");
        let out = dut.run("lava-network", &["broadcast", "no-such-if0"], "");
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "[{name}]");
        let out = dut.run("lava-network", &["broadcast"], "");
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "[{name}]");
    }
}

const IP_ADDR: &str =
    "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 10.0.2.15/23 brd 10.0.3.255 scope global dynamic eth0
       valid_lft 86000sec preferred_lft 86000sec
    inet6 fec0::5054:ff:fe12:3456/64 scope site dynamic
    inet6 fe80::5054:ff:fe12:3456/64 scope link
";
const IP_ROUTE: &str =
    "10.0.2.0/23 dev eth0 proto kernel\ndefault via 10.0.2.2 dev eth0 proto dhcp metric 100\n";
const IFCONFIG_OLD: &str = "eth0      Link encap:Ethernet  HWaddr 52:54:00:12:34:56
          inet addr:10.0.2.15  Bcast:10.0.2.255  Mask:255.255.255.0
          inet6 addr: fe80::5054:ff:fe12:3456/64 Scope:Link
          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1
";
const IFCONFIG_NEW: &str = "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet 10.0.2.15  netmask 255.255.255.0  broadcast 10.0.2.255
        inet6 fe80::5054:ff:fe12:3456  prefixlen 64  scopeid 0x20<link>
        ether 52:54:00:12:34:56  txqueuelen 1000  (Ethernet)
";

/// `lava-network broadcast` reads `ip` (preferred) or either `ifconfig`
/// style: DUT tools played by scripts printing their usual output, on a
/// PATH without the host's own.
#[test]
fn lava_network_reads_ip_and_both_ifconfig_styles() {
    for shell in shells() {
        let name = shell.name;
        for (tool, output, expected) in [
            (
                "ip",
                IP_ADDR,
                "ipv4=10.0.2.15 netmask=255.255.254.0 broadcast=10.0.3.255 ipv6=fec0::5054:ff:fe12:3456 \
                 mac=52:54:00:12:34:56 hostname=dut1 hostname-full=dut1.lab default-gateway=10.0.2.2 ",
            ),
            (
                "ifconfig",
                IFCONFIG_OLD,
                "ipv4=10.0.2.15 netmask=255.255.255.0 broadcast=10.0.2.255 ipv6=fe80::5054:ff:fe12:3456 \
                 mac=52:54:00:12:34:56 hostname=dut1 hostname-full=dut1.lab ",
            ),
            (
                "ifconfig",
                IFCONFIG_NEW,
                "ipv4=10.0.2.15 netmask=255.255.255.0 broadcast=10.0.2.255 ipv6=fe80::5054:ff:fe12:3456 \
                 mac=52:54:00:12:34:56 hostname=dut1 hostname-full=dut1.lab ",
            ),
        ] {
            let dut = Dut::new(&shell);
            let tools = dut.root.join("tools");
            std::fs::create_dir_all(&tools).unwrap();
            let fake = |file: &str, text: String| {
                let path = tools.join(file);
                std::fs::write(&path, text).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            };
            std::fs::write(dut.root.join("addr.txt"), output).unwrap();
            std::fs::write(dut.root.join("route.txt"), IP_ROUTE).unwrap();
            let root = dut.root.display();
            fake(
                tool,
                format!(
                    "#!/bin/sh\ncase \"$*\" in\n*route*) cat {root}/route.txt ;;\n*eth0*) cat {root}/addr.txt ;;\n*) exit 1 ;;\nesac\n"
                ),
            );
            fake(
                "hostname",
                "#!/bin/sh\nif [ \"$1\" = -f ]; then echo dut1.lab; else echo dut1; fi\n".into(),
            );
            for real in ["awk", "cat", "date", "uname", "rm", "mkdir", "cut"] {
                if let Some(path) = which(real) {
                    std::os::unix::fs::symlink(path, tools.join(real)).unwrap();
                }
            }
            let mut cmd = dut.command("lava-network", &["broadcast", "eth0"]);
            cmd.env("PATH", &tools);
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(out.status.code(), Some(0), "[{name}] {tool}: {stderr}");
            // the nameservers are the host's: not compared
            let expected = format!("<LAVA_MULTI_NODE> <LAVA_SEND network_info {expected}");
            assert!(
                stdout.starts_with(&expected),
                "[{name}] {tool}:\n{stdout}\nexpected {expected}"
            );
            let rest = &stdout[expected.len()..];
            assert!(rest.ends_with(">\n"), "[{name}] {tool}: {stdout}");
            assert!(
                rest.trim_end_matches(">\n").split_whitespace().all(|w| w.starts_with("dns_")),
                "[{name}] {tool}: {stdout}"
            );
        }
    }
}

/// `lava-network collect`, then `query`, `hosts` and `alias-hosts` on
/// what was collected.
#[test]
fn lava_network_collect_query_and_hosts() {
    for shell in shells() {
        let dut = Dut::new(&shell);
        let name = shell.name;
        let out = dut.run("lava-network", &["query", "1234", "ipv4"], "");
        assert_eq!(out.code, 1, "[{name}] nothing collected yet");
        let mut collect = dut.start("lava-network", &["collect", "eth0"]);
        assert_eq!(
            collect.next_line(),
            "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL network_info>",
            "[{name}]"
        );
        collect.type_text(
            "<LAVA_WAIT_ALL_COMPLETE 1234:ipv4=10.0.0.4 1234:hostname=srv 1234:hostname-full=srv.lab \
             1235:ipv4=10.0.0.5 1235:ipv6=fe80::1 1236:ipv4=10.0.0.6 1236:hostname=c2>\n\n",
        );
        let out = collect.finish();
        assert_eq!(out.code, 0, "[{name}] {out:?}");
        assert!(
            !dut.cache().exists(),
            "[{name}] the network cache is its own"
        );
        let query = |args: &[&str]| {
            let out = dut.run("lava-network", args, "");
            (out.code, out.stdout)
        };
        assert_eq!(query(&["query", "1234", "ipv4"]), (0, "10.0.0.4\n".into()));
        assert_eq!(query(&["query", "1235", "ipv6"]), (0, "fe80::1\n".into()));
        assert_eq!(
            query(&["query", "srv.lab", "ipv4"]),
            (0, "10.0.0.4\n".into())
        );
        assert_eq!(query(&["query", "c2", "ipv4"]), (0, "10.0.0.6\n".into()));
        assert_eq!(query(&["query", "1235", "mac"]).0, 1);
        assert_eq!(query(&["query", "9999", "ipv4"]).0, 1);
        assert_eq!(
            query(&["hosts"]),
            (0, "10.0.0.4\tsrv\n10.0.0.5\t1235\n10.0.0.6\tc2\n".into()),
            "[{name}]"
        );
        let hosts = dut.root.join("hosts");
        std::fs::write(&hosts, "127.0.0.1\tlocalhost\n").unwrap();
        let out = dut.run(
            "lava-network",
            &["alias-hosts", hosts.to_str().unwrap()],
            "",
        );
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "[{name}] {out:?}");
        assert_eq!(
            std::fs::read_to_string(&hosts).unwrap(),
            "127.0.0.1\tlocalhost\n10.0.0.4\tsrv\tserver01\n10.0.0.5\t1235\tclient01\n10.0.0.6\tc2\tclient02\n",
            "[{name}]"
        );
        // with a role
        let out = dut.run(
            "lava-network",
            &["collect", "eth0", "server"],
            "<LAVA_WAIT_ALL_COMPLETE 1234:ipv4=10.0.0.44>\n",
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "<LAVA_MULTI_NODE> <LAVA_WAIT_ALL network_info server>\n"),
            "[{name}]"
        );
        assert_eq!(
            std::fs::read_to_string(dut.net_cache()).unwrap(),
            "1234:ipv4=10.0.0.44\n"
        );
        let out = dut.run("lava-network", &["nonsense"], "");
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "[{name}]");
    }
}

const DEVICE: &str = "commands: {connect: 'true'}\nactions:\n  deploy: {methods: {overlay: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
                      timeouts: {actions: {}, connections: {}}\n";

fn job_text(protocols: &str) -> String {
    format!(
        "job_name: mn\ntimeouts: {{job: {{minutes: 1}}}}\n{protocols}actions:\n\
         - deploy: {{to: overlay}}\n\
         - boot: {{method: minimal, prompts: ['# ']}}\n\
         - test:\n    definitions:\n    - from: inline\n      name: smoke\n      path: inline/smoke.yaml\n      \
         repository:\n        metadata: {{format: Lava-Test Test Definition 1.0, name: smoke, description: smoke}}\n        \
         run: {{steps: [lava-self]}}\n"
    )
}

const GROUP_BLOCK: &str =
    "protocols:\n  lava-multinode:\n    target_group: 5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e\n    \
                           role: client\n    group_size: 3\n    sub_id: 1\n    \
                           roles: {'1234': server, '1235': client, '1236': client}\n";

fn parse(definition: &str, id: &str) -> Result<Job, lava_pipeline::Error> {
    Job::parse(
        &JobInputs::new(id, definition, DEVICE),
        &Registry::with_builtins(),
    )
}

#[test]
fn the_overlay_installs_the_helpers_of_multinode_jobs_only() {
    let job = parse(&job_text(GROUP_BLOCK), "1235").unwrap();
    let tree: Vec<String> = job.tree().iter().map(|(_, n)| n.clone()).collect();
    assert!(
        tree.contains(&"lava-multinode-overlay".to_string()),
        "{tree:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lava-1235");
    let written = multinode::install(&job.info, "common", &root).unwrap();
    let expected = multinode_scripts("client", "1235", &roles(), "/lava-1235", "/bin/sh");
    assert_eq!(written.len(), expected.len());
    for (name, text) in &expected {
        let path = root.join("bin").join(name);
        assert!(written.contains(&path), "{name}");
        assert_eq!(&std::fs::read_to_string(&path).unwrap(), text, "{name}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755, "{name}");
    }
    // a single-node job: nothing
    let single = parse(&job_text(""), "88").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lava-88");
    assert!(multinode::install(&single.info, "common", &root)
        .unwrap()
        .is_empty());
    assert!(!root.join("bin").exists());
}

/// The whole overlay of a single-node job, through the pipeline: the
/// generic helpers, no MultiNode ones.
#[test]
fn a_single_node_overlay_has_no_multinode_helpers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new("88", &job_text(""), DEVICE);
    inputs.tmp_dir = tmp.path().to_path_buf();
    let (logger, _memory) = lava_pipeline::Logger::memory("88");
    let cancel = lava_pipeline::CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    job.validate(&logger, &cancel).unwrap();
    // the boot fails (no console): the overlay was built before
    let _ = job.run(&logger, &cancel);
    let location = job
        .data()
        .and_then(|d| d.get_str("common", "test", "shared", "location"))
        .expect("lava-overlay ran");
    let bin = Path::new(&location).join("lava-88/bin");
    assert!(bin.join("lava-test-case").is_file());
    for (name, _) in SCRIPTS {
        assert!(!bin.join(name).exists(), "{name}");
    }
    job.cleanup(&logger, &cancel);
}

#[test]
fn a_group_without_role_or_roles_is_refused() {
    let no_role = GROUP_BLOCK.replace("    role: client\n", "");
    let refused = parse(&job_text(&no_role), "1235").and_then(|mut job| {
        let (logger, _memory) = lava_pipeline::Logger::memory("1235");
        job.validate(&logger, &lava_pipeline::CancelToken::new().unwrap())
    });
    let e = refused.expect_err("a target group without a role");
    assert!(e.message.contains("role"), "{e}");

    let no_roles = GROUP_BLOCK.replace(
        "    roles: {'1234': server, '1235': client, '1236': client}\n",
        "",
    );
    let job = parse(&job_text(&no_roles), "1235").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let e = multinode::install(&job.info, "common", tmp.path()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Bug);
    assert_eq!(
        e.message,
        "multinode definition without complete list of roles after assignment"
    );
    let bad = GROUP_BLOCK.replace("'1236': client", "'1236': two words");
    let job = parse(&job_text(&bad), "1235").unwrap();
    let e = multinode::install(&job.info, "common", tmp.path()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(e.message.contains("two words"), "{e}");
}
