//! Job validation rule by rule, on small documents written here (the
//! corpus tests in `job_corpus.rs` cover LAVA's own files).

use lava_proto::job::{
    self, Action, BootCommands, BootMethod, DeployMethod, JobDefinition, JobError, Options,
    Priority, Report, Repository, TestKind, Visibility,
};
use lava_proto::yaml;

/// A valid single-node job; tests append or replace parts of it.
const BASE: &str = "\
job_name: base
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 30}
  action: {minutes: 5}
actions:
- deploy:
    to: tmpfs
    images:
      rootfs: {url: 'https://example.com/rootfs.img.gz', compression: gz}
- boot:
    method: qemu
    media: tmpfs
    prompts: ['root@debian:']
- test:
    definitions:
    - {from: git, repository: 'https://example.com/t.git', path: smoke.yaml, name: smoke}
";

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// `(path, message)` of every error.
fn errors(report: &Report) -> Vec<(String, String)> {
    report
        .errors
        .iter()
        .map(|e| (e.path.clone(), e.message.clone()))
        .collect()
}

fn assert_error(text: &str, path: &str, words: &str) {
    let report = job::validate(text);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.path == path && e.message.contains(words)),
        "no error at `{path}` with `{words}` in:\n{report}\n--- for:\n{text}"
    );
}

fn assert_warning(text: &str, path: &str, words: &str) {
    let report = job::validate(text);
    assert!(report.is_valid(), "{report}\n--- for:\n{text}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.path == path && w.message.contains(words)),
        "no warning at `{path}` with `{words}` in:\n{report}"
    );
}

#[test]
fn the_base_job_is_valid_and_quiet() {
    let report = job::validate(BASE);
    assert_eq!(report, Report::default(), "{report}");
}

#[test]
fn every_independent_error_is_reported_in_document_order() {
    let text = "\
job_name: ''
visibility: secret
timeouts: {job: {minutes: 0}}
priority: urgent
actions:
- deploy: {to: floppy}
- boot: {method: u_boot}
";
    let report = job::validate(text);
    let got: Vec<(String, Option<usize>)> = report
        .errors
        .iter()
        .map(|e| (e.path.clone(), e.line))
        .collect();
    assert_eq!(
        got,
        [
            ("".to_owned(), None), // no device_type
            ("job_name".to_owned(), Some(1)),
            ("visibility".to_owned(), Some(2)),
            ("timeouts.job.minutes".to_owned(), Some(3)),
            ("priority".to_owned(), Some(4)),
            ("actions[0].deploy.to".to_owned(), Some(6)),
            ("actions[1].boot.method".to_owned(), Some(7)),
        ],
        "{report}"
    );
    // The same text gives the same report.
    assert_eq!(job::validate(text), report);
}

#[test]
fn timeouts() {
    assert_error(
        &BASE.replace("job: {minutes: 30}", "job: {minutes: 30, hours: 1}"),
        "timeouts.job",
        "give exactly one unit",
    );
    assert_error(
        &BASE.replace("action: {minutes: 5}", "action: {minutes: 45}"),
        "timeouts.action",
        "45m is longer than the job timeout (timeouts.job: 30m)",
    );
    assert_error(
        &BASE.replace(
            "action: {minutes: 5}",
            "actions: {http-download: {hours: 1}}",
        ),
        "timeouts.actions.http-download",
        "1h is longer",
    );
    assert_error(
        &BASE.replace(
            "action: {minutes: 5}",
            "connections: {Lava_Shell: {minutes: 1}}",
        ),
        "timeouts.connections.Lava_Shell",
        "lower-case letters and `-`",
    );
    assert_error(
        &BASE.replace(
            "    media: tmpfs\n",
            "    media: tmpfs\n    timeout: {days: 1}\n",
        ),
        "actions[1].boot.timeout",
        "1d is longer",
    );
    assert_error(
        &BASE.replace("action: {minutes: 5}", "action: {minutes: 5, skip: maybe}"),
        "timeouts.action.skip",
        "must be true or false",
    );
    // Equal to the job is fine; so are skip and a unit given as YAML 1.1.
    let report = job::validate(&BASE.replace(
        "action: {minutes: 5}",
        "action: {seconds: '1800', skip: yes}",
    ));
    assert!(!report.is_valid(), "a quoted number is a string");
    let report = job::validate(&BASE.replace("action: {minutes: 5}", "action: {seconds: 30:00}"));
    assert!(report.is_valid(), "{report}");
}

#[test]
fn top_level_values() {
    assert_error(
        &with("priority: High\n"),
        "priority",
        "did you mean `high`?",
    );
    assert_error(
        &with("priority: 101\n"),
        "priority",
        "from 0 to 100, got 101",
    );
    assert_error(&with("priority: 1.5\n"), "priority", "got 1.5");
    assert!(job::validate(&with("priority: 0\n")).is_valid());
    assert_warning(&with("priority: yes\n"), "priority", "read as the number 1");
    assert_error(&with("tags: usb\n"), "tags", "must be a list of strings");
    assert_error(
        &with("tags: [usb, 3]\n"),
        "tags[1]",
        "must be a string, got the integer 3",
    );
    assert_error(
        &BASE.replace("visibility: public", "visibility: {group: []}"),
        "visibility.group",
        "name at least one",
    );
    assert_error(
        &BASE.replace("visibility: public", "visibility: {groups: [a]}"),
        "visibility",
        "needs `group`",
    );
    assert_error(
        &with("metadata: {a: {b: c}}\n"),
        "metadata.a",
        "strings or integers, got a mapping",
    );
    assert_error(&with("metadata: {a: }\n"), "metadata.a", "got null");
    assert!(job::validate(&with("metadata: {a: 1, 2: b, c: true}\n")).is_valid());
    assert_error(
        &with("reboot_to_fastboot: 1\n"),
        "reboot_to_fastboot",
        "true or false",
    );
    assert_error(
        &with("device: x\n"),
        "device",
        "did you mean `device_type`?",
    );
    assert_error(
        &with("host_role: x\n"),
        "host_role",
        "written by the server",
    );
    assert_error(
        &BASE.replace("device_type: qemu", "device_type: ''"),
        "device_type",
        "must not be empty",
    );
}

#[test]
fn context_variables_are_a_closed_list_that_a_server_can_extend() {
    let text = with("context: {arch: arm64, extra_kernel_args: [quiet, 3], flavour: x}\n");
    assert_eq!(
        errors(&job::validate(&text)).len(),
        1,
        "only `flavour` is unknown"
    );
    assert_error(
        &text,
        "context.flavour",
        "unknown context variable `flavour`",
    );
    assert_error(
        &with("context: {arch: {x: 1}}\n"),
        "context.arch",
        "a string, an integer or a list",
    );
    assert_error(
        &with("context: {aarch: x}\n"),
        "context.aarch",
        "did you mean `arch`?",
    );
    let options = Options {
        extra_context_variables: vec!["flavour".to_owned()],
    };
    assert!(job::validate_with(&text, &options).is_valid());
    assert!(job::CONTEXT_VARIABLES.contains(&"boot_console"));
}

#[test]
fn secrets_and_environment() {
    assert_error(
        &with("secrets: {token: x}\n"),
        "secrets",
        "visibility: public",
    );
    let private = BASE.replace("visibility: public", "visibility: personal");
    assert!(job::validate(&format!("{private}secrets: {{token: x}}\n")).is_valid());
    assert_error(
        &with("environment: [a]\n"),
        "environment",
        "must be a mapping",
    );
}

#[test]
fn action_items() {
    let base_actions = BASE.split("actions:\n").next().unwrap().to_owned() + "actions:\n";
    let item = |text: &str| format!("{base_actions}{text}");
    assert_error(
        &item("- deploy\n"),
        "actions[0]",
        "must be a mapping with one key",
    );
    assert_error(&item("- {}\n"), "actions[0]", "is empty");
    assert_error(
        &item("- {deploy: {to: overlay}, boot: {method: minimal}}\n"),
        "actions[0]",
        "exactly one action",
    );
    assert_error(
        &item("- reboot: {}\n"),
        "actions[0].reboot",
        "did you mean `boot`?",
    );
    assert_error(
        &item("- deploy: tmpfs\n"),
        "actions[0].deploy",
        "must be a mapping",
    );
    assert_error(
        &format!("{base_actions}  deploy: {{}}\n"),
        "actions",
        "must be a list, got a mapping",
    );
    let no_actions = format!("{}actions: []\n", BASE.split("actions:\n").next().unwrap());
    assert!(job::validate(&no_actions).is_valid());
    assert_error(
        &item("- command: {name: relay-on, role: [a]}\n"),
        "actions[0].command.role",
        "unknown key `role` in a command action",
    );
    assert_error(
        &item("- deploy: {to: overlay, repeat: 2, failure_retry: 3}\n"),
        "actions[0].deploy.repeat",
        "cannot be used together with `failure_retry`",
    );
    assert_error(
        &item("- deploy: {to: overlay, repeat: 0}\n"),
        "actions[0].deploy.repeat",
        "≥ 1",
    );
    assert_error(
        &item("- deploy: {to: overlay, namespace: common}\n"),
        "actions[0].deploy.namespace",
        "reserved",
    );
}

#[test]
fn deploy_methods() {
    let deploy = |body: &str| {
        let base_actions = BASE.split("actions:\n").next().unwrap().to_owned() + "actions:\n";
        format!("{base_actions}- deploy: {body}\n")
    };
    assert!(job::validate(&deploy("{to: tftp, kernel: {url: k, type: zimage}, ramdisk: {url: r, header: u-boot}, nfsrootfs: {url: n, prefix: p}}")).is_valid());
    assert_error(
        &deploy("{to: tftp}"),
        "actions[0].deploy",
        "missing required key `kernel`",
    );
    assert_error(
        &deploy("{to: tftp, kernel: {url: k, type: bzimage}}"),
        "actions[0].deploy.kernel.type",
        "unknown type `bzimage` (did you mean `zimage`?); choose from image, uimage, zimage",
    );
    assert_error(
        &deploy(
            "{to: tftp, kernel: {url: k}, nfsrootfs: {url: n}, persistent_nfs: {address: 'a:/b'}}",
        ),
        "actions[0].deploy.persistent_nfs",
        "cannot be used together",
    );
    assert_error(
        &deploy("{to: tmpfs, images: {}}"),
        "actions[0].deploy.images",
        "is empty",
    );
    assert_error(
        &deploy("{to: tmpfs, images: {r: {compression: gz}}}"),
        "actions[0].deploy.images.r",
        "missing required key `url`",
    );
    assert_error(
        &deploy("{to: tmpfs, images: {r: {url: u, format: raw}}}"),
        "actions[0].deploy.images.r.format",
        "must be `qcow2`",
    );
    assert!(job::validate(&deploy("{to: flasher, images: {}}")).is_valid());
    assert_error(
        &deploy("{to: docker, image: Debian}"),
        "actions[0].deploy.image",
        "not a valid docker image name",
    );
    assert!(job::validate(&deploy(
        "{to: docker, image: {name: 'debian:buster', local: true}}"
    ))
    .is_valid());
    assert!(job::validate(&deploy("{to: sd, device: card, image: {url: u}}")).is_valid());
    assert_error(
        &deploy("{to: usb, device: d, image: {url: u}, images: {image: {url: u}}}"),
        "actions[0].deploy.images",
        "cannot be used together with `image`",
    );
    assert_error(
        &deploy("{to: usb, device: d, images: {boot: {url: u}}}"),
        "actions[0].deploy.images",
        "missing required key `image`",
    );
    assert_error(
        &deploy("{to: nbd, kernel: {url: k}, initrd: {url: i}}"),
        "actions[0].deploy",
        "missing required key `nbdroot`",
    );
    assert_error(
        &deploy("{to: iso-installer, images: {iso: {url: i}}, iso: {}}"),
        "actions[0].deploy.images",
        "missing required key `preseed`",
    );
    assert_error(
        &deploy("{to: u-boot-ums, image: {url: i, root_partition: -1}}"),
        "actions[0].deploy.image.root_partition",
        "≥ 0",
    );
    assert!(job::validate(&deploy(
        "{to: mps, images: {recovery_image: {url: r}, test_binary_1: {url: t, rename: x}}}"
    ))
    .is_valid());
    assert_error(
        &deploy("{to: iso_installer}"),
        "actions[0].deploy.to",
        "did you mean `iso-installer`?",
    );
    assert_error(
        &deploy("{to: overlay, authorize: gpg}"),
        "actions[0].deploy.authorize",
        "must be `ssh`",
    );
    assert_warning(
        &deploy("{to: overlay, imagez: {}}"),
        "actions[0].deploy.imagez",
        "unknown key `imagez` in a deploy to overlay",
    );
    assert_warning(
        &deploy("{to: ssh, connection: ssh}"),
        "actions[0].deploy.connection",
        "ignored by validation",
    );
}

#[test]
fn boot_methods() {
    let boot = |body: &str| {
        let base_actions = BASE.split("actions:\n").next().unwrap().to_owned() + "actions:\n";
        format!("{base_actions}- boot: {body}\n")
    };
    assert!(job::validate(&boot(
        "{method: u-boot, commands: ramdisk, prompts: ['=> ']}"
    ))
    .is_valid());
    assert_error(
        &boot("{method: u-boot}"),
        "actions[0].boot",
        "missing required key `commands`",
    );
    assert_error(
        &boot("{method: u-boot, commands: {a: b}}"),
        "actions[0].boot.commands",
        "string or a list of strings",
    );
    assert_error(
        &boot("{method: qemu, prompts: ''}"),
        "actions[0].boot.prompts",
        "must not be empty",
    );
    assert_error(
        &boot("{method: qemu, media: nfs}"),
        "actions[0].boot.media",
        "must be `tmpfs`",
    );
    assert_error(
        &boot("{method: qemu-iso}"),
        "actions[0].boot",
        "missing required key `media`",
    );
    assert_error(
        &boot("{method: recovery, commands: reboot}"),
        "actions[0].boot.commands",
        "choose from recovery, exit",
    );
    assert_error(
        &boot("{method: bootloader, bootloader: fastboot, commands: ramdisk}"),
        "actions[0].boot.commands",
        "must be a list of strings",
    );
    assert_error(
        &boot("{method: ssh, connection: serial}"),
        "actions[0].boot.connection",
        "must be `ssh`",
    );
    assert_error(
        &boot("{method: qemu, auto_login: {login_prompt: '', username: root}}"),
        "actions[0].boot.auto_login.login_prompt",
        "must not be empty",
    );
    assert_error(
        &boot("{method: qemu, auto_login: {login_prompt: 'login:'}}"),
        "actions[0].boot.auto_login",
        "missing required key `username`",
    );
    assert_error(
        &boot("{method: qemu, auto_login: {login_prompt: 'login:', username: root, pasword: x}}"),
        "actions[0].boot.auto_login.pasword",
        "did you mean `password`?",
    );
    assert_warning(
        &boot("{method: qemu, auto_login: {login_prompt: 'login:', username: root, password: x}}"),
        "actions[0].boot.auto_login.password",
        "without `password_prompt`",
    );
    // The submit schema checks auto_login of every method.
    assert_error(
        &boot("{method: dfu, auto_login: {username: root}}"),
        "actions[0].boot.auto_login",
        "missing required key `login_prompt`",
    );
    assert_error(
        &boot("{method: qemu, parameters: {shutdown-message: 3}}"),
        "actions[0].boot.parameters.shutdown-message",
        "must be a string",
    );
    assert_warning(
        &boot("{method: qemu, parameters: {kernel-message: x}}"),
        "actions[0].boot.parameters.kernel-message",
        "did you mean `kernel-start-message`?",
    );
    assert_error(
        &boot("{method: qemu, transfer_overlay: {download_command: wget}}"),
        "actions[0].boot.transfer_overlay",
        "missing required key `unpack_command`",
    );
    assert_warning(
        &boot("{method: grub, commands: nfs, connection: serial}"),
        "actions[0].boot.connection",
        "unknown key `connection` in a boot with method grub",
    );
    assert_error(
        &boot("{methods: qemu}"),
        "actions[0].boot",
        "missing required key `method`",
    );
}

#[test]
fn test_blocks() {
    let test = |body: &str| {
        let base_actions = BASE.split("actions:\n").next().unwrap().to_owned() + "actions:\n";
        format!("{base_actions}- test: {body}\n")
    };
    assert!(job::validate(&test("{definitions: []}")).is_valid());
    assert_error(
        &test("{timeout: {minutes: 1}}"),
        "actions[0].test",
        "needs one of `definitions`, `interactive` or `monitors`",
    );
    let def = |d: &str| test(&format!("{{definitions: [{d}]}}"));
    assert_error(
        &def("{from: git, repository: r, path: p}"),
        "actions[0].test.definitions[0]",
        "missing required key `name`",
    );
    assert_error(
        &def("{from: git, repository: r, path: p, name: 'smoke tests'}"),
        "actions[0].test.definitions[0].name",
        "only letters, digits",
    );
    assert!(job::validate(&def("{from: git, repository: r, path: p, name: 'été-2'}")).is_valid());
    assert_error(
        &def("{from: svn, repository: r, path: p, name: n}"),
        "actions[0].test.definitions[0].from",
        "choose from git, inline, url, tar",
    );
    assert!(job::validate(&def(
        "{from: url, repository: 'https://x/t.yaml', path: t.yaml, name: n}"
    ))
    .is_valid());
    assert_error(
        &def("{from: git, repository: r, path: p, name: n, revision: abc, shallow: true}"),
        "actions[0].test.definitions[0].shallow",
        "cannot be used with `revision`",
    );
    assert_error(
        &def("{from: git, repository: r, path: p, name: n, skip_install: [deps, tests]}"),
        "actions[0].test.definitions[0].skip_install[1]",
        "unknown install step `tests`",
    );
    assert_error(
        &def("{from: git, repository: r, path: p, name: n, parameters: [a]}"),
        "actions[0].test.definitions[0].parameters",
        "must be a mapping",
    );
    assert_error(&def("{from: inline, path: p, name: n, repository: {metadata: {format: 'Lava-Test Test Definition 1.0'}, run: {steps: [a]}}}"), "actions[0].test.definitions[0].repository.metadata", "missing required key `name`");
    assert_error(&def("{from: inline, path: p, name: n, repository: {metadata: {format: 'Lava-Test Test Definition 1.0', name: x}, runn: {}}}"), "actions[0].test.definitions[0].repository.runn", "did you mean `run`?");
    assert_error(&def("{from: inline, path: p, name: n, repository: {metadata: {format: 'Lava-Test Test Definition 1.0', name: x}, parse: {fixupdict: {PASS: passed}}}}"), "actions[0].test.definitions[0].repository.parse.fixupdict.PASS", "choose from pass, fail, skip, unknown");
    assert_error(
        &test("{monitors: [{name: m, start: s, end: e}]}"),
        "actions[0].test.monitors[0]",
        "missing required key `pattern`",
    );
    assert_error(
        &test("{monitors: [{name: m, start: s, end: e, pattern: p, extra: 1}]}"),
        "actions[0].test.monitors[0].extra",
        "unknown key `extra` in a monitor",
    );
    let interactive = |script: &str| {
        test(&format!(
            "{{interactive: [{{name: i, prompts: ['=> '], script: [{script}]}}]}}"
        ))
    };
    assert!(job::validate(&interactive(
        "{command: help, name: help-works, successes: [{message: usage}]}, {command: ~}"
    ))
    .is_valid());
    assert_error(
        &interactive("{name: x}"),
        "actions[0].test.interactive[0].script[0]",
        "missing required key `command`",
    );
    assert_error(
        &interactive("{command: c, failures: [{message: m, exception: Panic}]}"),
        "actions[0].test.interactive[0].script[0].failures[0].exception",
        "choose from InfrastructureError, JobError, TestError",
    );
    assert_error(
        &interactive("{command: c, name: 'a b'}"),
        "actions[0].test.interactive[0].script[0].name",
        "not a valid name",
    );
    assert_warning(
        &test("{definitions: [], monitors: []}"),
        "actions[0].test.monitors",
        "already has `definitions`",
    );
}

const MULTINODE: &str = "\
job_name: mn
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode:
    roles:
      host: {device_type: qemu, count: 1, context: {arch: amd64}}
      guest: {connection: ssh, count: 2, host_role: host, expect_role: host, request: lava-start}
    timeout: {minutes: 10}
actions:
- deploy: {role: [host], to: overlay}
- boot: {role: [guest], method: ssh, connection: ssh}
";

#[test]
fn multinode_rules() {
    assert_eq!(job::validate(MULTINODE), Report::default());
    assert_error(
        &format!("device_type: qemu\n{MULTINODE}"),
        "device_type",
        "must not be set in a multinode job",
    );
    assert_error(
        &format!("environment: {{A: b}}\n{MULTINODE}"),
        "environment",
        "must not be set in a multinode job",
    );
    assert_error(
        &MULTINODE.replace("{role: [host], to: overlay}", "{to: overlay}"),
        "actions[0].deploy",
        "missing `role`",
    );
    assert_error(
        &MULTINODE.replace("host_role: host", "host_role: hots"),
        "protocols.lava-multinode.roles.guest.host_role",
        "no role `hots` in protocols.lava-multinode.roles (did you mean `host`?)",
    );
    assert_error(
        &MULTINODE.replace("count: 1,", "count: 2,"),
        "protocols.lava-multinode.roles.guest.host_role",
        "its `count` must be 1",
    );
    assert_error(
        &MULTINODE.replace("count: 1,", "count: -1,"),
        "protocols.lava-multinode.roles.host.count",
        "≥ 0",
    );
    assert_error(
        &MULTINODE.replace(
            "{connection: ssh, count: 2,",
            "{device_type: qemu, connection: ssh, count: 2,",
        ),
        "protocols.lava-multinode.roles.guest",
        "has both `device_type` and `connection`",
    );
    assert_error(
        &MULTINODE.replace("context: {arch: amd64}", "context: {colour: red}"),
        "protocols.lava-multinode.roles.host.context.colour",
        "unknown context variable",
    );
    assert_error(
        &MULTINODE.replace("    timeout: {minutes: 10}\n", "    sub_id: 3\n"),
        "protocols.lava-multinode.sub_id",
        "written by the server",
    );
    assert_warning(
        &MULTINODE.replace("role: [host]", "role: [hots]"),
        "actions[0].deploy.role[0]",
        "no device runs this action",
    );
    assert_warning(
        &MULTINODE.replace("count: 1,", "count: 1, essential: true, flavour: x,"),
        "protocols.lava-multinode.roles.host.flavour",
        "unknown key `flavour` in a device role",
    );
}

#[test]
fn other_protocols() {
    assert!(job::validate(&with(
        "protocols: {lava-lxc: {name: c, distribution: debian, release: buster}}\n"
    ))
    .is_valid());
    assert!(job::validate(&with(
        "protocols: {lava-lxc: {r1: {name: c, distribution: debian, release: buster}}}\n"
    ))
    .is_valid());
    assert_error(
        &with("protocols: {lava-lxc: {name: c, distribution: debian}}\n"),
        "protocols.lava-lxc",
        "missing required key `release`",
    );
    assert_error(
        &with("protocols: {lava-xnbd: {port: any}}\n"),
        "protocols.lava-xnbd.port",
        "`auto` or a port number",
    );
    assert!(job::validate(&with(
        "protocols: {lava-vland: {server: {vlan_1: {tags: [10G]}}}}\n"
    ))
    .is_valid());
    assert_error(
        &with("protocols: {lava-vland: {server: {vlan-1: {tags: [10G]}}}}\n"),
        "protocols.lava-vland.server.vlan-1",
        "letters, digits and `_`",
    );
    assert_error(
        &with("protocols: {lava-multinodes: {}}\n"),
        "protocols.lava-multinodes",
        "did you mean `lava-multinode`?",
    );
}

#[test]
fn notify_rules() {
    let notify = |body: &str| with(&format!("notify: {body}\n"));
    assert!(job::validate(&notify("{criteria: {status: complete, type: regression}, recipients: [{to: {method: email, email: 'a@example.com'}}], callbacks: [{url: 'https://x', method: POST, dataset: all, content-type: json}]}")).is_valid());
    assert_error(
        &notify("{recipients: []}"),
        "notify",
        "missing required key `criteria`",
    );
    assert_error(
        &notify("{criteria: {status: done}}"),
        "notify.criteria.status",
        "unknown status `done`",
    );
    assert_warning(
        &notify("{criteria: {status: running, type: regression}}"),
        "notify.criteria.type",
        "only applies when the status is complete or incomplete",
    );
    assert_error(
        &notify("{criteria: {status: complete}, recipients: [{to: {method: email}}]}"),
        "notify.recipients[0].to",
        "needs `email`",
    );
    assert_error(
        &notify("{criteria: {status: complete}, recipients: [{to: {method: irc, server: s}}]}"),
        "notify.recipients[0].to",
        "needs `handle`",
    );
    assert_error(
        &notify(
            "{criteria: {status: complete}, recipients: [{to: {method: email, email: nobody}}]}",
        ),
        "notify.recipients[0].to.email",
        "not a valid email address",
    );
    assert_error(
        &notify("{criteria: {status: complete}, callback: {url: u}, callbacks: [{url: v}]}"),
        "notify.callbacks",
        "cannot be used together with `callback`",
    );
    assert_error(
        &notify("{criteria: {status: complete}, callback: {url: u, method: PUT}}"),
        "notify.callback.method",
        "choose from GET, POST",
    );
    assert_error(
        &notify("{criteria: {status: complete}, compare: {query: {entity: testrun}}}"),
        "notify.compare.query.entity",
        "only `testjob`",
    );
    assert_error(
        &notify("{criteria: {status: complete}, compare: {query: {name: q}}}"),
        "notify.compare.query",
        "missing required key `username`",
    );
    assert_error(
        &notify("{criteria: {status: complete}, verbosity: loud}"),
        "notify.verbosity",
        "choose from verbose, quiet, status-only",
    );
}

#[test]
fn values_loaded_elsewhere_can_be_validated() {
    let value = yaml::load(BASE).unwrap();
    assert!(job::validate_value(&value, &Options::default()).is_valid());
    let report = job::validate_value(&yaml::Value::from("job"), &Options::default());
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, None);
}

#[test]
fn the_typed_model() {
    let text = with(
        "priority: high\ntags: [usb]\ncontext: {arch: arm64}\nmetadata: {build: 12}\n\
         notify: {criteria: {status: finished}, callback: {url: 'https://x'}}\n",
    )
    .replace("visibility: public", "visibility: {group: [qa, lab]}")
    .replace(
        "- boot:\n    method: qemu\n",
        "- boot:\n    method: u-boot\n    commands: [boot]\n    namespace: x\n",
    )
    .replace("    media: tmpfs\n", "")
    .replace("- deploy:\n", "- deploy:\n    namespace: x\n")
    .replace(
        "- test:\n",
        "- test:\n    namespace: x\n    failure_retry: 2\n",
    ) + "secrets: {api-key: s3cr3t}\n";
    let (job, warnings) = JobDefinition::from_yaml(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(job.priority, Priority::High);
    assert_eq!(job.priority.value(), 100);
    assert_eq!(
        job.visibility,
        Visibility::Group(vec!["qa".into(), "lab".into()])
    );
    assert_eq!(job.timeouts.action.unwrap().seconds(), 300);
    assert_eq!(job.tags, ["usb"]);
    assert_eq!(
        job.secrets.get("api-key").and_then(|v| v.as_str()),
        Some("s3cr3t")
    );
    let debug = format!("{job:?}");
    assert!(
        !debug.contains("s3cr3t"),
        "secrets leak into Debug: {debug}"
    );
    assert!(debug.contains("<redacted>"));
    let notify = job.notify.as_ref().unwrap();
    assert_eq!(notify.all_callbacks().count(), 1);
    assert!(job.reboot_to_fastboot);

    let Action::Deploy(deploy) = &job.actions[0] else {
        panic!()
    };
    assert_eq!(deploy.to, DeployMethod::Tmpfs);
    assert_eq!(deploy.common.namespace(), "x");
    assert!(
        deploy.parameters.get("images").is_some(),
        "method keys stay available"
    );
    let Action::Boot(boot) = &job.actions[1] else {
        panic!()
    };
    assert_eq!(boot.method, BootMethod::UBoot);
    assert_eq!(boot.method.to_string(), "u-boot");
    assert_eq!(boot.commands, Some(BootCommands::List(vec!["boot".into()])));
    let Action::Test(test) = &job.actions[2] else {
        panic!()
    };
    assert_eq!(test.common.failure_retry, Some(2));
    let TestKind::Definitions(definitions) = &test.kind else {
        panic!()
    };
    assert_eq!(
        definitions[0].repository,
        Repository::Url("https://example.com/t.git".into())
    );
    assert!(definitions[0].is_shallow());
    assert_eq!(job.actions[2].kind(), "test");

    // A refused submission reports every error.
    match JobDefinition::from_yaml(&BASE.replace("minutes: 30", "minutes: 0")) {
        Err(JobError::Invalid(report)) => assert_eq!(report.errors[0].path, "timeouts.job.minutes"),
        other => panic!("{other:?}"),
    }
    let err = JobDefinition::from_yaml("a: [").unwrap_err();
    assert!(matches!(err, JobError::Yaml(_)));
    assert!(err.to_string().starts_with("YAML: line"), "{err}");
}

#[test]
fn server_written_jobs_are_read_without_submission_rules() {
    // A connection role's per-device job, as the server splits it.
    let text = "\
job_name: guest
connection: ssh
host_role: host
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode: {role: guest, group_size: 3, sub_id: '12.2', target_group: g, expect_role: host, timeout: {seconds: 60}}
actions:
- deploy: {role: guest, to: ssh}
- test: {role: guest, definitions: []}
";
    assert!(!job::validate(text).is_valid());
    let job = JobDefinition::parse(text).unwrap();
    assert_eq!(job.host_role.as_deref(), Some("host"));
    let multinode = job.protocols.multinode.unwrap();
    assert_eq!(multinode.role.as_deref(), Some("guest"));
    assert_eq!(multinode.group_size, Some(3));
    assert!(multinode.extra.contains_key("expect_role"));
    assert_eq!(job.actions[0].common().role, ["guest"]);

    let err = JobDefinition::parse(
        "job_name: x\ntimeouts: {job: {minutes: 1}}\nactions:\n- deploy: {to: floppy}\n",
    )
    .unwrap_err();
    assert!(matches!(err, JobError::Structure(_)));
    assert!(err.to_string().contains("actions[0]"), "{err}");
}
