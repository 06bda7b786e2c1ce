//! The MultiNode helper scripts of the test overlay (docs/pipeline.md
//! §9.8, §12), written for this project in POSIX sh (dash and busybox ash
//! run them), and `lava-multinode-overlay`, which installs them in
//! `<results dir>/bin` of a MultiNode sub-job.
//!
//! A helper talks to `lava-run` through the console: it prints one request
//! line, `<LAVA_MULTI_NODE> <LAVA_SEND id k=v ... >`, `<LAVA_MULTI_NODE>
//! <LAVA_WAIT id>`, `<LAVA_MULTI_NODE> <LAVA_WAIT_ALL id[ role]>` or
//! `<LAVA_MULTI_NODE> <LAVA_SYNC id>`, and the waiting ones then read their
//! standard input until `lava-run` types the answer:
//! `<LAVA_WAIT_COMPLETE sender:key=value ...>`, `<LAVA_WAIT_ALL_COMPLETE
//! ...>`, `<LAVA_SYNC_COMPLETE>`, or the same with ` nack` (exit 1). The
//! answer's `sender:key=value` words go to [`CACHE_FILE`], one a line.
//!
//! Compared with LAVA 2020.01's helpers: values are quoted (no glob
//! expansion), replies are read with `read -r` and may end in `\r`,
//! an answer is found anywhere in its line, a message ID must be one word
//! without `=`, `<` or `>`, words with `<` or `>` are not sent, end of
//! input before the answer is an error (exit 1), diagnostics and debug
//! lines (`<LAVA_WAIT_DEBUG ...>`) go to standard error, and
//! `lava-network` (removed from LAVA in 2017) is back. Output of
//! `lava-group`, `lava-role` and `lava-self` is byte for byte LAVA's,
//! quirks included: `lava-group` lines start with a TAB and `lava-role
//! list` prints job ids.
//!
//! ```
//! use lava_pipeline::unstable::actions::deploy::multinode::multinode_scripts;
//!
//! let roles = vec![("1234".to_string(), "server".to_string())];
//! let scripts = multinode_scripts("server", "1234", &roles, "/lava-1234", "/bin/sh");
//! let group = &scripts.iter().find(|(n, _)| n == "lava-group").unwrap().1;
//! assert!(group.starts_with("#!/bin/sh\n\nLAVA_GROUP=\"\\t1234\\tserver\\n\"\n"));
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lava_proto::yaml::{Mapping, Value};

use crate::action::{About, Action, RunContext, Validate};
use crate::error::{Error, ErrorKind};
use crate::job::{scalar, JobInfo};

/// The protocol's name in `protocols:`.
pub const PROTOCOL: &str = "lava-multinode";

/// Where the waiting helpers store the last answer on the DUT (LAVA's
/// path): one `sender:key=value` line per word.
pub const CACHE_FILE: &str = "/tmp/lava_multi_node_cache.txt";

/// The functions every messaging helper starts with (a macro so that the
/// scripts stay `&'static str` constants built with `concat!`).
macro_rules! mn_lib {
    () => {
        r#"# --- MultiNode messaging (shared by the helpers) ---
_mn_tab=$(printf '\t')
_mn_cr=$(printf '\r')
_mn_nl='
'
_mn_api=

_mn_warn() {
    printf '%s: %s\n' "$_mn_name" "$*" >&2
}

_mn_fail() {
    _mn_warn "$*"
    exit 1
}

# debug lines, when LAVA_MULTI_NODE_DEBUG is set: standard error, never a request
_mn_debug() {
    [ -n "$LAVA_MULTI_NODE_DEBUG" ] || return 0
    printf '<%s_DEBUG %s %s>\n' "$_mn_api" "$*" "$(date 2>/dev/null)" >&2
}

# _mn_word_ok TEXT: one word without '<' or '>'
_mn_word_ok() {
    case $1 in
        '' | *' '* | *"$_mn_tab"* | *"$_mn_nl"* | *'<'* | *'>'*) return 1 ;;
    esac
    return 0
}

_mn_check_id() {
    _mn_word_ok "$1" || _mn_fail "invalid message ID: one word without '=', '<' or '>' expected"
    case $1 in
        *=*) _mn_fail "invalid message ID: one word without '=', '<' or '>' expected" ;;
    esac
}

# _mn_request API TEXT: the request line lava-run reads on the console
_mn_request() {
    _mn_api=$1
    printf '<LAVA_MULTI_NODE> <%s %s>\n' "$1" "$2"
}

# _mn_send ID [WORDS...]: LAVA_SEND with the words that look like KEY=VALUE
_mn_send() {
    _mn_check_id "$1"
    _mn_text="$1 "
    shift
    set -f
    for _mn_word in $*; do
        case $_mn_word in
            *'<'* | *'>'*) _mn_warn "not sent: a word with '<' or '>'" ;;
            ?*=?*) _mn_text="$_mn_text$_mn_word " ;;
            *) _mn_warn "not sent: '$_mn_word' is not KEY=VALUE" ;;
        esac
    done
    set +f
    _mn_request LAVA_SEND "$_mn_text"
}

# _mn_call API CACHE ID [ROLE]: print the request, wait for lava-run's
# answer on standard input, keep its sender:key=value words in CACHE
_mn_call() {
    _mn_check_id "$3"
    if [ -n "$4" ]; then
        _mn_word_ok "$4" || _mn_fail "invalid role: one word without '<' or '>' expected"
        _mn_request "$1" "$3 $4"
    else
        _mn_request "$1" "$3"
    fi
    _mn_reply="<${1}_COMPLETE"
    _mn_debug "waiting for the answer"
    _mn_found=
    while [ -z "$_mn_found" ]; do
        _mn_line=
        if ! IFS= read -r _mn_line; then
            [ -n "$_mn_line" ] || _mn_fail "standard input closed before the answer"
        fi
        _mn_line=${_mn_line%"$_mn_cr"}
        case $_mn_line in
            *"$_mn_reply>"* | *"$_mn_reply "*) _mn_found=1 ;;
        esac
    done
    _mn_body=${_mn_line#*"$_mn_reply"}
    _mn_body=${_mn_body%%">"*}
    _mn_dir=${2%/*}
    if [ -n "$_mn_dir" ] && [ "$_mn_dir" != "$2" ] && [ ! -d "$_mn_dir" ]; then
        mkdir -p "$_mn_dir"
    fi
    rm -f "$2"
    set -f
    for _mn_word in $_mn_body; do
        case $_mn_word in
            nack) _mn_fail "no answer from the group (nack)" ;;
            ?*=?*) printf '%s\n' "$_mn_word" >> "$2" ;;
            *) _mn_warn "ignored '$_mn_word' in the answer" ;;
        esac
    done
    set +f
    _mn_debug "answer received"
}
# --- end of the shared part ---
"#
    };
}

const SEND: &str = concat!(
    "# lava-send ID [KEY=VALUE...]: send a message to the group (no wait).\n",
    "_mn_name=lava-send\n",
    mn_lib!(),
    r#"[ $# -ge 1 ] || _mn_fail "usage: lava-send ID [KEY=VALUE...]"
_mn_send "$@"
"#
);

const WAIT: &str = concat!(
    "# lava-wait ID: wait until a member of the group sent ID; its data goes to\n",
    "# $LAVA_MULTI_NODE_CACHE as sender:key=value lines.\n",
    "_mn_name=lava-wait\n",
    mn_lib!(),
    r#"[ $# -eq 1 ] || _mn_fail "usage: lava-wait ID"
_mn_call LAVA_WAIT "$LAVA_MULTI_NODE_CACHE" "$1"
"#
);

const WAIT_ALL: &str = concat!(
    "# lava-wait-all ID [ROLE]: wait until every member of the group (or of ROLE)\n",
    "# sent ID; the data goes to $LAVA_MULTI_NODE_CACHE as sender:key=value lines.\n",
    "_mn_name=lava-wait-all\n",
    mn_lib!(),
    r#"[ $# -eq 1 ] || [ $# -eq 2 ] || _mn_fail "usage: lava-wait-all ID [ROLE]"
_mn_call LAVA_WAIT_ALL "$LAVA_MULTI_NODE_CACHE" "$1" "$2"
"#
);

const SYNC: &str = concat!(
    "# lava-sync ID: wait until every member of the group reached lava-sync ID.\n",
    "# Like LAVA's, it empties $LAVA_MULTI_NODE_CACHE.\n",
    "_mn_name=lava-sync\n",
    mn_lib!(),
    r#"[ $# -eq 1 ] || _mn_fail "usage: lava-sync ID"
_mn_call LAVA_SYNC "$LAVA_MULTI_NODE_CACHE" "$1"
"#
);

const GROUP: &str = r#"# lava-group: the group, one "<TAB>job id<TAB>role" line per member.
# lava-group ROLE: the "<TAB>job id" lines of the members whose role matches
# ROLE (an extended regular expression for the whole role), without the
# final newline; exit 1 when there is none.
if [ -z "$1" ]; then
    printf '%b' "$LAVA_GROUP"
    exit 0
fi
_match=$(printf '%b' "$LAVA_GROUP" | LAVA_GROUP_FILTER=$1 awk -F '\t' \
    'NF >= 3 && $3 ~ ("^(" ENVIRON["LAVA_GROUP_FILTER"] ")$") { print "\t" $2 }')
[ -n "$_match" ] || exit 1
printf '%s' "$_match"
"#;

const ROLE: &str = r#"# lava-role: this member's role (no newline).
# lava-role list: as LAVA 2020.01, the second column of lava-group (job ids).
if [ "$1" != list ]; then
    printf '%s' "$TARGET_ROLE"
    exit 0
fi
case $0 in
    */*) _group="${0%/*}/lava-group" ;;
    *) _group=lava-group ;;
esac
"$_group" | cut -f2
"#;

const SELF: &str = r#"# lava-self: this member's name in the group (its job id).
printf '%s\n' "$LAVA_HOSTNAME"
"#;

const NETWORK: &str = concat!(
    r#"# lava-network: share network details in the group and look them up.
#   lava-network broadcast IFACE        send IFACE's details as message network_info
#   lava-network collect [IFACE [ROLE]] wait for every member's (or ROLE's) broadcast
#                                       and keep the details (IFACE is not used)
#   lava-network query HOST KEY         KEY of HOST (a job id, as lava-group prints,
#                                       or a broadcast hostname)
#   lava-network hosts [FILE]           "IPV4<TAB>HOSTNAME" per member (appended to FILE)
#   lava-network alias-hosts [FILE]     "IPV4<TAB>HOSTNAME<TAB>ALIAS", ALIAS = the role
#                                       (letters, digits, '-') and a 2-digit counter
# Keys: ipv4 netmask broadcast ipv6 mac hostname hostname-full default-gateway
# dns_1 dns_2 dns_3 (a key without a value is not sent). HOSTNAME is the member's
# hostname, or its job id when it sent none. Collected details are kept in
# $LAVA_MULTI_NODE_NETWORK_CACHE, one "<job id>:<key>=<value>" line each.
LAVA_MULTI_NODE_NETWORK_CACHE='/tmp/lava_multi_node_network_cache.txt'
_mn_name=lava-network
"#,
    mn_lib!(),
    r#"_net_usage() {
    _mn_fail "usage: lava-network broadcast IFACE | collect [IFACE [ROLE]] | query HOST KEY | hosts [FILE] | alias-hosts [FILE]"
}

# _net_info IFACE: the KEY=VALUE words of this device
_net_info() {
    _raw=
    if command -v ip >/dev/null 2>&1; then
        _raw=$(ip addr show dev "$1" 2>/dev/null) || _raw=
    fi
    if [ -z "$_raw" ] && command -v ifconfig >/dev/null 2>&1; then
        _raw=$(ifconfig "$1" 2>/dev/null) || _raw=
    fi
    [ -n "$_raw" ] || _mn_fail "no interface $1 ('ip addr' and 'ifconfig' do not know it)"
    # 'ip addr' and both ifconfig styles (net-tools 1.x/2.x, busybox)
    printf '%s\n' "$_raw" | awk '
        function mask(p,    m, i, o) {
            p += 0
            m = ""
            for (i = 0; i < 4; i++) {
                if (p >= 8) { o = 255; p -= 8 } else if (p > 0) { o = 256 - 2 ^ (8 - p); p = 0 } else o = 0
                m = m (i ? "." : "") o
            }
            return m
        }
        {
            for (i = 1; i <= NF; i++) {
                w = $i; n = (i < NF) ? $(i + 1) : ""
                if (w == "inet" && v4 == "") {
                    if (n ~ /^addr:/) n = substr(n, 6)
                    v4 = n
                    if (v4 ~ /\//) { pl = v4; sub(/.*\//, "", pl); sub(/\/.*/, "", v4) }
                } else if (w == "inet6" && v6 == "") {
                    if (n == "addr:") n = (i + 1 < NF) ? $(i + 2) : ""
                    sub(/\/.*/, "", n); v6 = n
                } else if (w == "brd" && $1 == "inet" && bc == "") bc = n
                else if (w == "broadcast" && bc == "") bc = n
                else if (w ~ /^Bcast:/ && bc == "") bc = substr(w, 7)
                else if (w == "netmask" && nm == "") nm = n
                else if (w ~ /^Mask:/ && nm == "") nm = substr(w, 6)
                else if ((w ~ /^link\// || w == "HWaddr" || w == "ether") && mac == "" && n ~ /:/) mac = n
            }
        }
        END {
            if (nm == "" && pl != "") nm = mask(pl)
            out = ""
            if (v4 != "") out = out " ipv4=" v4
            if (nm != "") out = out " netmask=" nm
            if (bc != "") out = out " broadcast=" bc
            if (v6 != "") out = out " ipv6=" v6
            if (mac != "") out = out " mac=" mac
            printf "%s", out
        }'
    _h=$(hostname 2>/dev/null) || _h=
    [ -n "$_h" ] || _h=$(uname -n 2>/dev/null) || _h=
    _hf=$(hostname -f 2>/dev/null) || _hf=
    [ -n "$_hf" ] || _hf=$_h
    [ -z "$_h" ] || printf ' hostname=%s' "$_h"
    [ -z "$_hf" ] || printf ' hostname-full=%s' "$_hf"
    _gw=
    if command -v ip >/dev/null 2>&1; then
        _gw=$(ip -4 route show 2>/dev/null | awk '$1 == "default" { for (i = 2; i < NF; i++) if ($i == "via") { print $(i + 1); exit } }')
    fi
    if [ -z "$_gw" ] && command -v route >/dev/null 2>&1; then
        _gw=$(route -n 2>/dev/null | awk '$1 == "0.0.0.0" && $2 != "0.0.0.0" { print $2; exit }')
    fi
    [ -z "$_gw" ] || printf ' default-gateway=%s' "$_gw"
    if [ -r /etc/resolv.conf ]; then
        awk '$1 == "nameserver" && $2 != "" && n < 3 { n++; printf " dns_%d=%s", n, $2 }' /etc/resolv.conf
    fi
}

_net_cache() {
    [ -f "$LAVA_MULTI_NODE_NETWORK_CACHE" ] || _mn_fail "no network details: run 'lava-network collect' first"
}

# _net_get SENDER KEY: print KEY of SENDER from the collected details
_net_get() {
    while IFS= read -r _l; do
        case $_l in
            "$1:$2="*) printf '%s\n' "${_l#*=}"; return 0 ;;
        esac
    done < "$LAVA_MULTI_NODE_NETWORK_CACHE"
    return 1
}

# _net_sender NAME: the member whose hostname or hostname-full is NAME
_net_sender() {
    while IFS= read -r _l; do
        case $_l in
            *:hostname="$1" | *:hostname-full="$1") printf '%s\n' "${_l%%:*}"; return 0 ;;
        esac
    done < "$LAVA_MULTI_NODE_NETWORK_CACHE"
    return 1
}

# the collected details as "IPV4<TAB>HOSTNAME" lines (from stdin: lava-group,
# for aliases) -- $1 = hosts | alias-hosts
_net_hosts() {
    LAVA_NET_CACHE=$LAVA_MULTI_NODE_NETWORK_CACHE LAVA_NET_MODE=$1 awk -F '\t' '
        function load(    f, l, s, kv, k) {
            f = ENVIRON["LAVA_NET_CACHE"]
            while ((getline l < f) > 0) {
                s = l; sub(/:.*/, "", s)
                kv = substr(l, length(s) + 2)
                k = kv; sub(/=.*/, "", k)
                if (!((s ":" k) in d)) {
                    d[s ":" k] = substr(kv, length(k) + 2)
                    if (k == "ipv4") order[++count] = s
                }
            }
            close(f)
        }
        function name(s) { return (d[s ":hostname"] != "") ? d[s ":hostname"] : s }
        BEGIN {
            load()
            if (ENVIRON["LAVA_NET_MODE"] == "hosts") {
                for (i = 1; i <= count; i++) printf "%s\t%s\n", d[order[i] ":ipv4"], name(order[i])
                exit
            }
        }
        NF >= 3 {
            seen[$3]++
            if (d[$2 ":ipv4"] == "") next
            a = $3; gsub(/[^A-Za-z0-9-]/, "", a)
            printf "%s\t%s\t%s%02d\n", d[$2 ":ipv4"], name($2), a, seen[$3]
        }'
}

case $1 in
    broadcast)
        [ $# -eq 2 ] && [ -n "$2" ] || _net_usage
        _words=$(_net_info "$2") || exit 1
        _mn_send network_info "$_words"
        ;;
    collect)
        [ $# -le 3 ] || _net_usage
        _mn_call LAVA_WAIT_ALL "$LAVA_MULTI_NODE_NETWORK_CACHE" network_info "$3"
        ;;
    query)
        [ $# -eq 3 ] || _net_usage
        _net_cache
        _net_get "$2" "$3" && exit 0
        _sender=$(_net_sender "$2") && _net_get "$_sender" "$3" && exit 0
        exit 1
        ;;
    hosts | alias-hosts)
        [ $# -le 2 ] || _net_usage
        _net_cache
        if [ "$1" = hosts ]; then
            _lines=$(_net_hosts hosts < /dev/null)
        else
            _lines=$("$LAVA_TEST_BIN/lava-group" | _net_hosts alias-hosts)
        fi
        [ -n "$_lines" ] || exit 0
        if [ -n "$2" ]; then
            printf '%s\n' "$_lines" >> "$2"
        else
            printf '%s\n' "$_lines"
        fi
        ;;
    *)
        _net_usage
        ;;
esac
"#
);

/// `(name, body)` of every MultiNode helper, without the `#!` line and
/// the preamble [`multinode_scripts`] adds. (`lava-echo-ipv4` is a generic
/// helper, installed for every job.)
pub const SCRIPTS: &[(&str, &str)] = &[
    ("lava-send", SEND),
    ("lava-wait", WAIT),
    ("lava-wait-all", WAIT_ALL),
    ("lava-sync", SYNC),
    ("lava-group", GROUP),
    ("lava-role", ROLE),
    ("lava-self", SELF),
    ("lava-network", NETWORK),
];

/// `'text'` for a POSIX shell.
fn sh_single(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// The text between the double quotes of `LAVA_GROUP="..."`: one
/// `\t<job id>\t<role>\n` (literal backslash escapes, printed with
/// `printf %b`) per member. Characters special inside double quotes or to
/// `%b` are escaped.
fn group_value(roles: &[(String, String)]) -> String {
    let escape = |text: &str| {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\\\\\"),
                '"' | '$' | '`' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out
    };
    roles
        .iter()
        .map(|(id, role)| format!("\\t{}\\t{}\\n", escape(id), escape(role)))
        .collect()
}

/// The installed MultiNode helpers, `(name, text)`: each text is
/// `#!<sh_cmd>`, a blank line, the preamble, then the body of [`SCRIPTS`].
/// The preamble is LAVA's: `lava-group` gets `LAVA_GROUP` (one
/// `\t<job id>\t<role>\n` per entry of `roles`, in order), `lava-role`
/// `TARGET_ROLE='<role>'`, `lava-self` `LAVA_HOSTNAME='<job id>'`, the
/// others `LAVA_TEST_BIN='<results_dir>/bin'`,
/// `LAVA_MULTI_NODE_CACHE='/tmp/lava_multi_node_cache.txt'` and
/// `LAVA_MULTI_NODE_DEBUG='yes'`.
pub fn multinode_scripts(
    role: &str,
    job_id: &str,
    roles: &[(String, String)],
    results_dir: &str,
    sh_cmd: &str,
) -> Vec<(String, String)> {
    SCRIPTS
        .iter()
        .map(|(name, body)| {
            let preamble = match *name {
                "lava-group" => format!("LAVA_GROUP=\"{}\"\n", group_value(roles)),
                "lava-role" => format!("TARGET_ROLE={}\n", sh_single(role)),
                "lava-self" => format!("LAVA_HOSTNAME={}\n", sh_single(job_id)),
                _ => format!(
                    "LAVA_TEST_BIN={}\nLAVA_MULTI_NODE_CACHE={}\nLAVA_MULTI_NODE_DEBUG='yes'\n",
                    sh_single(&format!("{}/bin", results_dir.trim_end_matches('/'))),
                    sh_single(CACHE_FILE)
                ),
            };
            (name.to_string(), format!("#!{sh_cmd}\n\n{preamble}{body}"))
        })
        .collect()
}

/// What the helpers need to know about the group, from the sub-job's
/// `protocols.lava-multinode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// This sub-job's role.
    pub role: String,
    /// `(job id, role)` of every device member, in the definition's order.
    pub roles: Vec<(String, String)>,
}

/// The `protocols.lava-multinode` block of a MultiNode sub-job (one with
/// a `target_group`), if the definition has one.
pub fn protocol_block(definition: &Mapping) -> Option<&Mapping> {
    definition
        .get("protocols")
        .and_then(|p| p.get(PROTOCOL))
        .and_then(Value::as_mapping)
        .filter(|block| block.get("target_group").is_some())
}

/// The group of a MultiNode sub-job: `Ok(None)` for any other job; a
/// `Job` error without `role` or with a `roles` entry the helpers cannot
/// hold (empty, or with white space or control characters); a `Bug`
/// error without a `roles` mapping (the server writes it once the whole
/// group is scheduled).
pub fn group(definition: &Mapping) -> Result<Option<Group>, Error> {
    let Some(block) = protocol_block(definition) else {
        return Ok(None);
    };
    let role = match block.get("role").map(scalar) {
        Some(role) if !role.is_empty() => role,
        _ => return Err(Error::job("multinode job without a specified role")),
    };
    let roles = block
        .get("roles")
        .and_then(Value::as_mapping)
        .ok_or_else(|| {
            Error::bug("multinode definition without complete list of roles after assignment")
        })?;
    let bad =
        |text: &str| text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control());
    let mut members = Vec::new();
    for (id, member_role) in roles.iter() {
        let (id, member_role) = (scalar(id), scalar(member_role));
        if bad(&id) || bad(&member_role) {
            return Err(Error::job(format!(
                "protocols.{PROTOCOL}.roles: invalid entry '{id}: {member_role}' (empty, or with white space)"
            )));
        }
        members.push((id, member_role));
    }
    Ok(Some(Group {
        role,
        roles: members,
    }))
}

/// Write the MultiNode helpers of `job` into `<results_root>/bin` (mode
/// 0755), `results_root` being the results directory inside the overlay's
/// staging directory. Returns the files written; none for a job that is
/// not a MultiNode sub-job.
pub fn install(job: &JobInfo, namespace: &str, results_root: &Path) -> Result<Vec<PathBuf>, Error> {
    let Some(group) = group(&job.definition)? else {
        return Ok(Vec::new());
    };
    let sh = job
        .posix_constant(namespace, "lava_test_sh_cmd")
        .unwrap_or_else(|| "/bin/sh".into());
    let results_dir = job.results_dir(namespace);
    let bin = results_root.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| Error::io(bin.display(), e))?;
    let mut written = Vec::new();
    for (name, text) in multinode_scripts(&group.role, &job.id, &group.roles, &results_dir, &sh) {
        let path = bin.join(&name);
        std::fs::write(&path, text).map_err(|e| Error::io(path.display(), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(path.display(), e))?;
        written.push(path);
    }
    Ok(written)
}

/// `lava-multinode-overlay`: the MultiNode helpers, for a sub-job whose
/// `protocols.lava-multinode` has a `target_group` (a child of
/// `lava-overlay`, which made the staging directory).
#[derive(Debug, Default)]
pub struct MultinodeOverlay;

const ABOUT_MULTINODE_OVERLAY: About = About::new(
    "lava-multinode-overlay",
    "add lava scripts during deployment for multinode test shell use",
    "overlay the lava multinode scripts",
);

impl Action for MultinodeOverlay {
    fn about(&self) -> About {
        ABOUT_MULTINODE_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if let Some(block) = protocol_block(&v.job.definition) {
            if block.get("role").map(scalar).unwrap_or_default().is_empty() {
                v.error("multinode job without a specified role");
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        if protocol_block(&ctx.job.definition).is_none() {
            ctx.logger.debug("skipped lava-multinode-overlay");
            return Ok(());
        }
        let location = ctx
            .get_str("test", "shared", "location")
            .ok_or_else(|| Error::bug("Missing lava overlay location"))?;
        let location = PathBuf::from(location);
        if !location.is_dir() {
            return Err(Error::bug("Unable to find overlay location"));
        }
        let ns = ctx.namespace().to_string();
        let results = ctx.job.results_dir(&ns);
        let root = location.join(results.trim_start_matches('/'));
        for path in install(ctx.job, &ns, &root)? {
            ctx.logger.debug(format!("Creating {}", path.display()));
        }
        Ok(())
    }
}
