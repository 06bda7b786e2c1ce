//! The LAVA test overlay (docs/pipeline.md §9.7): the `/lava-<job id>` tree
//! with the helper scripts, the environment, the secrets, and one
//! directory per test definition (`run.sh`, `install.sh`, metadata),
//! packed as `overlay-<level>.tar.gz` whose members are the results
//! directory's path without its leading `/`.
//!
//! ```text
//! lava-overlay
//! ├─ ssh-authorize            (devices with an ssh deploy method; no key is copied)
//! ├─ lava-vland-overlay       (no-op)
//! ├─ lava-multinode-overlay   (MultiNode sub-jobs only: their helpers)
//! ├─ test-definition
//! │  ├─ git-repo-action | inline-repo-action    per definition, then
//! │  ├─ test-overlay
//! │  ├─ test-install-overlay
//! │  └─ test-runscript-overlay
//! ├─ compress-overlay
//! └─ persistent-nfs-overlay   (no-op)
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lava_proto::yaml::{self, Mapping, Value};

use crate::action::{About, Action, Populate, RunContext, Validate};
use crate::actions::deploy::{download, helpers, multinode};
use crate::describe::to_block_yaml;
use crate::error::{Error, ErrorKind};
use crate::host::{self, shell_quote};
use crate::job::scalar;

fn io_err(what: &Path, e: std::io::Error) -> Error {
    Error::io(what.display(), e)
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| io_err(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_err(path, e))
}

/// The staging directory that holds the results directory (published by
/// `lava-overlay` as `test/shared/location`), and the results directory
/// inside it.
fn staging(ctx: &RunContext<'_>) -> Result<(PathBuf, PathBuf), Error> {
    let location = ctx
        .get_str("test", "shared", "location")
        .ok_or_else(|| Error::bug("The overlay location was not published"))?;
    let location = PathBuf::from(location);
    let results = ctx.job.results_dir(ctx.namespace());
    let inside = location.join(results.trim_start_matches('/'));
    Ok((location, inside))
}

/// Flatten a value into `export NAME=VALUE` lines (docs/pipeline.md §9.7).
pub fn flatten_env(prefix: &str, value: &Value, out: &mut Vec<String>) {
    let join = |p: &str, k: &str| {
        if p.is_empty() {
            k.to_string()
        } else {
            format!("{p}_{k}")
        }
    };
    match value {
        Value::Mapping(m) => {
            for (k, v) in m.iter() {
                flatten_env(&join(prefix, &scalar(k)), v, out);
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_env(&join(prefix, &i.to_string()), v, out);
            }
        }
        Value::Bool(b) => out.push(format!("export {prefix}={}", u8::from(*b))),
        Value::Int(i) => out.push(format!("export {prefix}={i}")),
        Value::Null => out.push(format!("export {prefix}=''")),
        other => out.push(format!("export {prefix}={}", sh_single(&scalar(other)))),
    }
}

/// `'text'` for a POSIX shell (quotes inside are escaped).
pub fn sh_single(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// `lava-overlay`.
#[derive(Debug, Default)]
pub struct LavaOverlay {
    distro: Option<String>,
}

const ABOUT_LAVA_OVERLAY: About = About::new(
    "lava-overlay",
    "add lava scripts during deployment for test shell use",
    "overlay the lava support scripts",
);

impl Action for LavaOverlay {
    fn about(&self) -> About {
        ABOUT_LAVA_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let ssh = p
            .job
            .device
            .actions
            .as_ref()
            .is_some_and(|a| a.deploy_methods.keys().any(|k| scalar(k).contains("ssh")));
        if ssh {
            p.add(Placeholder::new(
                "ssh-authorize",
                "include public key in overlay and authorize root user",
                "add public key to authorized_keys",
            ));
        }
        p.add(Placeholder::new(
            "lava-vland-overlay",
            "Populate specific vland scripts for tests to lookup vlan data.",
            "Add files detailing vlan configuration.",
        ));
        p.add(multinode::MultinodeOverlay);
        p.add(TestDefinition::default());
        p.add(CompressOverlay);
        p.add(Placeholder::new(
            "persistent-nfs-overlay",
            "unpack overlay into persistent NFS",
            "add test overlay to NFS",
        ));
        self.distro = p
            .block
            .get("deployment_data")
            .and_then(|d| d.get("distro"))
            .map(scalar);
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let ns = v.node.namespace().to_string();
        if !v.job.needs_overlay(&ns) {
            return Ok(());
        }
        let results = v.job.results_dir(&ns);
        if !results.starts_with('/') || results.contains("..") {
            v.error(format!("Invalid lava_test_results_dir '{results}'"));
        }
        v.set("test", "results", "lava_test_results_dir", results.as_str());
        let sh = v
            .job
            .posix_constant(&ns, "lava_test_sh_cmd")
            .unwrap_or_else(|| "/bin/sh".into());
        v.set("test", "shared", "lava_test_sh_cmd", sh.as_str());
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let ns = ctx.namespace().to_string();
        if !ctx.job.needs_overlay(&ns) {
            ctx.logger
                .debug(format!("[{ns}] skipped lava-overlay - no test action."));
            return Ok(());
        }
        let location = ctx.data.mkdtemp("lava-overlay")?;
        ctx.set("test", "shared", "location", location.display().to_string());
        let results = ctx.job.results_dir(&ns);
        let root = location.join(results.trim_start_matches('/'));
        for dir in ["bin", "tests", "results"] {
            std::fs::create_dir_all(root.join(dir)).map_err(|e| io_err(&root, e))?;
        }
        let sh = ctx
            .job
            .posix_constant(&ns, "lava_test_sh_cmd")
            .unwrap_or_else(|| "/bin/sh".into());
        let device = &ctx.job.device.data;
        let target = |k: &str| {
            device
                .get("parameters")
                .and_then(|p| p.get("interfaces"))
                .and_then(|i| i.get("target"))
                .and_then(|t| t.get(k))
                .map(scalar)
                .unwrap_or_default()
        };
        let probe = device
            .get("static_info")
            .and_then(Value::as_sequence)
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i.get("probe_ip").is_some() && i.get("probe_channel").is_some())
            })
            .cloned();
        let probe_get = |k: &str| {
            probe
                .as_ref()
                .and_then(|p| p.get(k))
                .map(scalar)
                .unwrap_or_default()
        };
        let storage: String = device
            .get("storage_info")
            .and_then(Value::as_sequence)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_mapping)
                    .flat_map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("\\t{}\\t{}\\n", scalar(k), scalar(v)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut scripts: Vec<(String, String)> = helpers::GENERIC
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_string()))
            .collect();
        if let Some(command) = self.distro.as_deref().and_then(helpers::installer) {
            for (name, body) in scripts.iter_mut() {
                if name == "lava-install-packages" {
                    *body = helpers::install_script(command);
                }
            }
        }
        for (name, body) in &scripts {
            let injected = match name.as_str() {
                "lava-target-mac" => format!("TARGET_DEVICE_MAC={}\n", sh_single(&target("mac"))),
                "lava-target-ip" => format!("TARGET_DEVICE_IP={}\n", sh_single(&target("ip"))),
                "lava-probe-ip" => {
                    format!("PROBE_DEVICE_IP={}\n", sh_single(&probe_get("probe_ip")))
                }
                "lava-probe-channel" => format!(
                    "PROBE_DEVICE_CHANNEL={}\n",
                    sh_single(&probe_get("probe_channel"))
                ),
                "lava-target-storage" => format!("LAVA_STORAGE=\"{storage}\"\n"),
                _ => String::new(),
            };
            let text = format!("#!{sh}\n\n{injected}{body}");
            write_file(&root.join("bin").join(name), &text, 0o755)?;
        }
        // environment
        let mut lines = Vec::new();
        if let Some(env) = device.get("environment") {
            flatten_env("", env, &mut lines);
        }
        for (key, prefix) in [
            ("device_info", "LAVA_DEVICE_INFO"),
            ("static_info", "LAVA_STATIC_INFO"),
            ("storage_info", "LAVA_STORAGE_INFO"),
        ] {
            if let Some(v) = device.get(key) {
                flatten_env(prefix, v, &mut lines);
            }
        }
        if let Some(env) = ctx.job.definition.get("environment") {
            flatten_env("", env, &mut lines);
        }
        let mut environment = lines.join("\n");
        if !environment.is_empty() {
            environment.push('\n');
        }
        write_file(&root.join("environment"), &environment, 0o644)?;
        let secrets = ctx.job.secrets();
        if !secrets.is_empty() {
            let text: String = secrets.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            write_file(&root.join("secrets"), &text, 0o600)?;
        }
        ctx.set(
            "test",
            "test-definition",
            "overlay_dir",
            root.display().to_string(),
        );
        ctx.run_children()
    }
}

/// A no-op action kept so that level numbers match LAVA's trees.
#[derive(Debug)]
pub struct Placeholder(About);

impl Placeholder {
    /// A placeholder named `name`.
    pub fn new(name: &'static str, description: &'static str, summary: &'static str) -> Self {
        Placeholder(About::new(name, description, summary))
    }
}

impl Action for Placeholder {
    fn about(&self) -> About {
        self.0
    }
    fn run(&mut self, _ctx: &mut RunContext<'_>) -> Result<(), Error> {
        Ok(())
    }
}

/// One test definition as the overlay actions see it.
#[derive(Debug, Clone)]
pub struct DefinitionEntry {
    /// `<index>_<name>`.
    pub test_name: String,
    /// The test block's stage.
    pub stage: u32,
    /// The job's definition entry (`from`, `name`, `path`, `repository`...).
    pub entry: Mapping,
    /// `<job id>_<level of the repository action>`.
    pub uuid: String,
}

impl DefinitionEntry {
    /// The definition's path in its test directory, as its repository
    /// action published it (`from: url` may choose it), else the entry's.
    fn definition_path(&self, ctx: &RunContext<'_>) -> String {
        ctx.get_str("test", &self.uuid, "path")
            .or_else(|| self.get("path"))
            .unwrap_or_default()
    }

    fn get(&self, key: &str) -> Option<String> {
        self.entry.get(key).map(scalar)
    }

    /// The test's directory inside the overlay staging tree.
    pub fn overlay_dir(&self, results_root: &Path) -> PathBuf {
        results_root
            .join(self.stage.to_string())
            .join("tests")
            .join(&self.test_name)
    }

    /// The test's directory on the device.
    pub fn device_dir(&self, results_dir: &str) -> String {
        format!("{results_dir}/{}/tests/{}", self.stage, self.test_name)
    }
}

/// `test-definition`.
#[derive(Debug, Default)]
pub struct TestDefinition {
    entries: Vec<DefinitionEntry>,
}

const ABOUT_TEST_DEFINITION: About = About::new(
    "test-definition",
    "load test definitions into image",
    "loading test definitions",
);

impl Action for TestDefinition {
    fn about(&self) -> About {
        ABOUT_TEST_DEFINITION
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let mut index = 0usize;
        for block in p.job.test_blocks(&p.block.namespace) {
            let (Some(stage), Some(Value::Sequence(definitions))) =
                (block.stage, block.get("definitions"))
            else {
                continue;
            };
            for definition in definitions {
                let entry = definition.as_mapping().cloned().unwrap_or_default();
                let name = entry.get("name").map(scalar).unwrap_or_default();
                let test_name = format!("{index}_{name}");
                index += 1;
                let uuid = format!("{}_{}", p.job.id, p.next_level());
                let def = DefinitionEntry {
                    test_name,
                    stage,
                    entry,
                    uuid,
                };
                match def.get("from").as_deref() {
                    Some("git") => p.add(RepoAction::new(def.clone(), RepoKind::Git)),
                    Some("inline") => p.add(RepoAction::new(def.clone(), RepoKind::Inline)),
                    Some("url") => p.add(RepoAction::new(def.clone(), RepoKind::Url)),
                    Some("tar") => p.add(RepoAction::new(def.clone(), RepoKind::Tar)),
                    other => p.add(RepoAction::new(
                        def.clone(),
                        RepoKind::Unknown(other.unwrap_or_default().to_string()),
                    )),
                }
                p.add(TestOverlay(def.clone()));
                p.add(TestInstallOverlay(def.clone()));
                p.add(TestRunscriptOverlay(def.clone()));
                self.entries.push(def);
            }
        }
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let name_re = regex::Regex::new(r"^[\w\-]+$").map_err(|e| Error::bug(e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        for def in &self.entries {
            let Some(name) = def.get("name") else {
                v.error("Test definition is missing 'name'");
                continue;
            };
            if def.get("from").is_none() {
                v.error(format!("Test definition {name} is missing 'from'"));
            }
            if !name_re.is_match(&name) {
                v.error(format!(
                    "Invalid characters found in test definition name: {name}"
                ));
            }
            if name == "lava" {
                v.error("Test definition name 'lava' is reserved");
            }
            if !seen.insert(name.clone()) {
                v.error(format!("Test definition names need to be unique: {name}"));
            }
            if let Some(p) = def.entry.get("parameters") {
                if !p.is_null() && p.as_mapping().is_none() {
                    v.error(format!("Invalid test definition parameters for {name}"));
                }
            }
        }
        let names: Vec<Value> = self
            .entries
            .iter()
            .map(|d| Value::from(d.test_name.as_str()))
            .collect();
        v.set(
            "test-definition",
            "test-definition",
            "testdef_index",
            Value::Sequence(names),
        );
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        ctx.run_children()?;
        let (_, root) = staging(ctx)?;
        let results = ctx.job.results_dir(ctx.namespace());
        let mut confs: std::collections::BTreeMap<u32, String> = Default::default();
        for def in &self.entries {
            let conf = confs.entry(def.stage).or_default();
            conf.push_str(&def.device_dir(&results));
            conf.push('\n');
        }
        for (stage, text) in confs {
            write_file(
                &root.join(stage.to_string()).join("lava-test-runner.conf"),
                &text,
                0o644,
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RepoKind {
    Git,
    Inline,
    /// A definition file, or an archive of them, downloaded.
    Url,
    /// An archive given in the job, base64-encoded.
    Tar,
    Unknown(String),
}

impl RepoKind {
    fn vcs(&self) -> &'static str {
        match self {
            RepoKind::Inline => "inline",
            RepoKind::Url => "url",
            RepoKind::Tar => "tar",
            _ => "git",
        }
    }
}

/// The largest test definition (or archive of them) fetched `from: url`
/// or given `from: tar`.
pub const MAX_DEFINITION_BYTES: u64 = 64 * 1024 * 1024;

/// Whether `bytes` (decompressed) are a tar archive (`ustar` magic).
fn is_tar(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar".as_slice())
}

/// `bytes` decompressed when they start with a known compression's magic.
fn decompressed(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    match crate::archive::Compression::sniff(&bytes) {
        None => Ok(bytes),
        Some(c) => {
            let mut out = Vec::new();
            crate::archive::decoder(c, bytes.as_slice())
                .take(MAX_DEFINITION_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::job(format!("Unable to decompress {what}: {e}")))?;
            if out.len() as u64 > MAX_DEFINITION_BYTES {
                return Err(Error::job(format!(
                    "{what} is larger than {MAX_DEFINITION_BYTES} bytes once decompressed"
                )));
            }
            Ok(out)
        }
    }
}

/// Unpack a tar archive (already decompressed) into `dir`, refusing any
/// member that would land outside it, and links (the overlay actions
/// write into the tree afterwards and must not follow one out).
fn unpack_definitions(archive: &[u8], dir: &Path, what: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    crate::archive::extract_tar_plain(archive, dir)
        .map(|_| ())
        .map_err(|e| Error::job(format!("Unable to unpack {what}: {e}")))
}

/// `git-repo-action`, `inline-repo-action`, `url-repo-action`,
/// `tar-repo-action`: put the definition in the test's overlay directory.
#[derive(Debug)]
pub struct RepoAction {
    def: DefinitionEntry,
    kind: RepoKind,
}

impl RepoAction {
    fn new(def: DefinitionEntry, kind: RepoKind) -> Self {
        RepoAction { def, kind }
    }

    /// `from: tar`: the archive of `repository` (base64), decompressed.
    fn tar_archive(&self) -> Result<Vec<u8>, Error> {
        use base64::Engine as _;
        let name = &self.def.test_name;
        let text = self
            .def
            .entry
            .get("repository")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::job(format!(
                    "Test definition {name} from tar needs 'repository': a base64-encoded tar archive"
                ))
            })?;
        let compact: String = text.split_whitespace().collect();
        if compact.len() as u64 > MAX_DEFINITION_BYTES / 3 * 4 + 4 {
            return Err(Error::job(format!(
                "Test definition {name}: the archive is larger than {MAX_DEFINITION_BYTES} bytes"
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| {
                Error::job(format!(
                    "Test definition {name}: 'repository' is not base64: {e}"
                ))
            })?;
        let archive = decompressed(bytes, &format!("the archive of test definition {name}"))?;
        if !is_tar(&archive) {
            return Err(Error::job(format!(
                "Test definition {name}: 'repository' is not a tar archive"
            )));
        }
        Ok(archive)
    }

    /// `from: url`: the file at `repository`, checked against the entry's
    /// checksums; an archive is unpacked into `dir`, a single file written
    /// there as `path` (default: the URL's file name). Returns the path of
    /// the definition inside `dir`.
    fn fetch_url(&self, dir: &Path, ctx: &mut RunContext<'_>) -> Result<String, Error> {
        let name = &self.def.test_name;
        let url = self.def.get("repository").unwrap_or_default();
        let bytes = download::fetch_small(&url, MAX_DEFINITION_BYTES, &|| ctx.check())?;
        let checksums: Vec<(String, String)> = ["md5sum", "sha256sum", "sha512sum"]
            .iter()
            .filter_map(|k| self.def.get(k).map(|v| (k.to_string(), v)))
            .collect();
        download::verify_checksums(&bytes, &checksums, &format!("'{url}'"))?;
        ctx.results.insert(
            "sha256sum",
            download::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)).as_str(),
        );
        let content = decompressed(bytes, &format!("'{url}'"))?;
        if is_tar(&content) {
            let Some(path) = self.def.get("path") else {
                return Err(Error::job(format!(
                    "Test definition {name}: '{url}' is an archive: 'path' must name the definition inside it"
                )));
            };
            unpack_definitions(&content, dir, &format!("'{url}'"))?;
            ctx.logger
                .info(format!("Unpacked the test definitions of {url}"));
            return Ok(path);
        }
        let path = match self.def.get("path") {
            Some(path) => path,
            None => url
                .split(['?', '#'])
                .next()
                .and_then(|u| u.rsplit('/').next())
                .map(|f| f.trim_end_matches(".gz").trim_end_matches(".xz"))
                .filter(|f| !f.is_empty() && *f != "." && *f != "..")
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::job(format!(
                        "Test definition {name}: no file name in '{url}': give 'path'"
                    ))
                })?,
        };
        write_file(
            &dir.join(&path),
            &String::from_utf8(content).map_err(|_| {
                Error::job(format!("Test definition {name}: '{url}' is not UTF-8 text"))
            })?,
            0o644,
        )?;
        ctx.logger
            .info(format!("Downloaded test definition file {url} as {path}"));
        Ok(path)
    }
}

fn load_definition(path: &Path) -> Result<Mapping, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::job(format!(
            "Unable to open test definition '{}': {e}",
            path.display()
        ))
    })?;
    match yaml::load(&text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(Error::job(format!(
            "Test definition '{}' is not a mapping",
            path.display()
        ))),
        Err(e) => Err(Error::job(format!(
            "Unable to parse test definition '{}': {e}",
            path.display()
        ))),
    }
}

const ABOUT_INLINE_REPO_ACTION: About = About::new(
    "inline-repo-action",
    "apply inline test definition to the test image",
    "extract inline test definition",
);
const ABOUT_GIT_REPO_ACTION: About = About::new(
    "git-repo-action",
    "apply git repository of tests to the test image",
    "clone git test repo",
);
const ABOUT_URL_REPO_ACTION: About = About::new(
    "url-repo-action",
    "apply a single test file to the test image",
    "download file test",
);
const ABOUT_TAR_REPO_ACTION: About = About::new(
    "tar-repo-action",
    "apply a tarball of tests to the test image",
    "unpack tar test repo",
);

impl Action for RepoAction {
    fn about(&self) -> About {
        match self.kind {
            RepoKind::Inline => ABOUT_INLINE_REPO_ACTION,
            RepoKind::Url => ABOUT_URL_REPO_ACTION,
            RepoKind::Tar => ABOUT_TAR_REPO_ACTION,
            _ => ABOUT_GIT_REPO_ACTION,
        }
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        match &self.kind {
            RepoKind::Unknown(other) => v.error(format!(
                "No testdef_repo handler is available for the given repository type '{other}'."
            )),
            RepoKind::Git => {
                if self.def.get("repository").is_none() || self.def.get("path").is_none() {
                    v.error(format!(
                        "Test definition {} needs 'repository' and 'path'",
                        self.def.test_name
                    ));
                }
                host::which("git")?;
            }
            RepoKind::Inline => {
                if self
                    .def
                    .entry
                    .get("repository")
                    .and_then(Value::as_mapping)
                    .is_none()
                {
                    v.error(format!(
                        "Inline test definition {} needs a 'repository' mapping",
                        self.def.test_name
                    ));
                }
            }
            RepoKind::Url => match self.def.entry.get("repository").and_then(Value::as_str) {
                Some(url)
                    if ["http://", "https://", "file://"]
                        .iter()
                        .any(|scheme| url.starts_with(scheme)) => {}
                _ => v.error(format!(
                    "Test definition {} from url needs 'repository': an http://, https:// or file:// URL",
                    self.def.test_name
                )),
            },
            RepoKind::Tar => {
                if self.def.get("path").is_none() {
                    v.error(format!(
                        "Test definition {} from tar needs 'path' (the definition inside the archive)",
                        self.def.test_name
                    ));
                }
                if let Err(e) = self.tar_archive() {
                    v.error(e.message);
                }
            }
        }
        if let Some(path) = self.def.get("path") {
            if path.starts_with('/') || path.split('/').any(|c| c == "..") {
                v.error(format!("Invalid test definition path '{path}'"));
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (_, root) = staging(ctx)?;
        let dir = self.def.overlay_dir(&root);
        let results = ctx.job.results_dir(ctx.namespace());
        let mut path = self.def.get("path").unwrap_or_default();
        let uuid = self.def.uuid.clone();
        ctx.set(
            "uuid",
            "runner_path",
            &self.def.test_name,
            self.def.device_dir(&results),
        );
        ctx.set(
            "uuid",
            "overlay_path",
            &self.def.test_name,
            dir.display().to_string(),
        );
        let mut commit = None;
        match &self.kind {
            RepoKind::Unknown(other) => {
                return Err(Error::job(format!("No testdef_repo handler for '{other}'")))
            }
            RepoKind::Inline => {
                let repository = self
                    .def
                    .entry
                    .get("repository")
                    .cloned()
                    .unwrap_or_default();
                write_file(&dir.join(&path), &to_block_yaml(&repository), 0o644)?;
            }
            RepoKind::Git => {
                let repository = self.def.get("repository").unwrap_or_default();
                let mut argv = vec!["git".to_string(), "clone".into()];
                if let Some(branch) = self.def.get("branch") {
                    argv.extend(["-b".into(), branch]);
                }
                let revision = self.def.get("revision");
                let shallow = self
                    .def
                    .entry
                    .get("shallow")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                if revision.is_none() && shallow {
                    argv.push("--depth=1".into());
                }
                argv.extend([repository.clone(), dir.display().to_string()]);
                let fail = |_| {
                    Error::infrastructure(format!("Unable to fetch git repository '{repository}'"))
                };
                host::run(
                    &argv,
                    &ctx.deadline,
                    ctx.cancel,
                    ctx.logger,
                    ErrorKind::Infrastructure,
                )
                .map_err(fail)?;
                let git_c = |args: &[&str]| {
                    let mut a = vec!["git".to_string(), "-C".into(), dir.display().to_string()];
                    a.extend(args.iter().map(|s| s.to_string()));
                    a
                };
                if let Some(rev) = &revision {
                    host::run(
                        &git_c(&["checkout", "-q", rev]),
                        &ctx.deadline,
                        ctx.cancel,
                        ctx.logger,
                        ErrorKind::Infrastructure,
                    )
                    .map_err(fail)?;
                }
                let out = host::run(
                    &git_c(&["log", "-1", "--pretty=%H"]),
                    &ctx.deadline,
                    ctx.cancel,
                    ctx.logger,
                    ErrorKind::Infrastructure,
                )
                .map_err(fail)?;
                let hash = out.output.trim().to_string();
                if self.def.entry.get("history").and_then(Value::as_bool) == Some(false) {
                    let _ = std::fs::remove_dir_all(dir.join(".git"));
                }
                ctx.results.insert("commit", hash.as_str());
                ctx.results.insert("repository", repository.as_str());
                ctx.results.insert("path", path.as_str());
                commit = Some(hash);
            }
            RepoKind::Url => {
                path = self.fetch_url(&dir, ctx)?;
                let url = self.def.get("repository").unwrap_or_default();
                ctx.results.insert("repository", url.as_str());
                ctx.results.insert("path", path.as_str());
            }
            RepoKind::Tar => {
                let archive = self.tar_archive()?;
                unpack_definitions(
                    &archive,
                    &dir,
                    &format!("the archive of test definition {}", self.def.test_name),
                )?;
                ctx.results.insert("path", path.as_str());
            }
        }
        let definition = load_definition(&dir.join(&path))?;
        let metadata = definition.get("metadata").cloned().unwrap_or_default();
        let mut meta = Mapping::new();
        for key in ["os", "devices", "environment"] {
            meta.insert(key, metadata.get(key).cloned().unwrap_or(Value::Null));
        }
        meta.insert("branch_vcs", self.kind.vcs());
        meta.insert(
            "project_name",
            metadata.get("name").cloned().unwrap_or(Value::Null),
        );
        meta.insert(
            "commit_id",
            commit.clone().map(Value::from).unwrap_or(Value::Null),
        );
        ctx.set("test", &uuid, "testdef_metadata", Value::Mapping(meta));
        ctx.set(
            "test",
            &uuid,
            "repository",
            self.def
                .entry
                .get("repository")
                .cloned()
                .unwrap_or_default(),
        );
        ctx.set("test", &uuid, "path", path.as_str());
        ctx.set(
            "test",
            &uuid,
            "revision",
            self.def
                .get("revision")
                .unwrap_or_else(|| "unspecified".into()),
        );
        ctx.set(
            "test",
            &uuid,
            "commit-id",
            commit.map(Value::from).unwrap_or(Value::Null),
        );
        let pattern = definition.get("parse").and_then(|p| {
            p.get("pattern").map(|pattern| {
                let mut m = Mapping::new();
                m.insert("pattern", pattern.clone());
                m.insert(
                    "fixupdict",
                    p.get("fixupdict").cloned().unwrap_or(Value::Null),
                );
                Value::Mapping(m)
            })
        });
        ctx.set(
            "test",
            &uuid,
            "testdef_pattern",
            pattern.unwrap_or(Value::Null),
        );
        ctx.set("test", &uuid, "test_name", self.def.test_name.as_str());
        let mut list = match ctx.get("repo-action", "repo-action", "uuid-list") {
            Some(Value::Sequence(items)) => items.clone(),
            _ => Vec::new(),
        };
        list.push(Value::from(uuid.as_str()));
        ctx.set(
            "repo-action",
            "repo-action",
            "uuid-list",
            Value::Sequence(list),
        );
        Ok(())
    }
}

/// `test-overlay`: `testdef.yaml`, `uuid`, `testdef_metadata`.
#[derive(Debug)]
pub struct TestOverlay(DefinitionEntry);

const ABOUT_TEST_OVERLAY: About = About::new(
    "test-overlay",
    "overlay test support files onto image",
    "applying LAVA test overlay",
);

impl Action for TestOverlay {
    fn about(&self) -> About {
        ABOUT_TEST_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (_, root) = staging(ctx)?;
        let dir = self.0.overlay_dir(&root);
        let path = self.0.definition_path(ctx);
        let definition = load_definition(&dir.join(&path))?;
        write_file(
            &dir.join("testdef.yaml"),
            &to_block_yaml(&Value::Mapping(definition)),
            0o644,
        )?;
        write_file(&dir.join("uuid"), &self.0.uuid, 0o644)?;
        let meta = ctx
            .get("test", &self.0.uuid, "testdef_metadata")
            .cloned()
            .unwrap_or_default();
        write_file(&dir.join("testdef_metadata"), &to_block_yaml(&meta), 0o644)?;
        ctx.results.insert("uuid", self.0.uuid.as_str());
        ctx.results
            .insert("name", self.0.get("name").unwrap_or_default());
        ctx.results.insert("path", path);
        ctx.results
            .insert("from", self.0.get("from").unwrap_or_default());
        if self.0.get("from").as_deref() == Some("git") {
            ctx.results
                .insert("repository", self.0.get("repository").unwrap_or_default());
        }
        Ok(())
    }
}

/// The parameter block at the top of `install.sh` and `run.sh`.
fn parameter_block(def: &DefinitionEntry, definition: &Mapping) -> String {
    let mut out = String::from("###default parameters from test definition###\n");
    for key in ["params", "parameters"] {
        if let Some(Value::Mapping(m)) = definition.get(key) {
            for (k, v) in m.iter() {
                out.push_str(&format!("{}={}\n", scalar(k), sh_single(&scalar(v))));
            }
        }
    }
    out.push_str("######\n###test parameters from job submission###\n");
    for key in ["parameters", "params"] {
        if let Some(Value::Mapping(m)) = def.entry.get(key) {
            for (k, v) in m.iter() {
                out.push_str(&format!("{}={}\n", scalar(k), sh_single(&scalar(v))));
            }
        }
    }
    out.push_str("######\n");
    out
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `test-install-overlay`: `install.sh` from the definition's `install`.
#[derive(Debug)]
pub struct TestInstallOverlay(DefinitionEntry);

const ABOUT_TEST_INSTALL_OVERLAY: About = About::new(
    "test-install-overlay",
    "overlay dependency installation support files onto image",
    "applying LAVA test install scripts",
);

impl Action for TestInstallOverlay {
    fn about(&self) -> About {
        ABOUT_TEST_INSTALL_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (_, root) = staging(ctx)?;
        let dir = self.0.overlay_dir(&root);
        let definition = load_definition(&dir.join(self.0.definition_path(ctx)))?;
        let Some(install) = definition.get("install").filter(|v| !v.is_null()) else {
            ctx.results
                .insert("skipped test-install-overlay", self.0.uuid.as_str());
            return Ok(());
        };
        let skip = strings(self.0.entry.get("skip_install"));
        let skipped = |what: &str| skip.iter().any(|s| s == what || s == "all");
        let mut script = parameter_block(&self.0, &definition);
        if !skipped("keys") {
            for key in strings(install.get("keys")) {
                script.push_str(&format!("lava-add-keys {}\n", shell_quote(&key)));
            }
        }
        if !skipped("sources") {
            for source in strings(install.get("sources")) {
                script.push_str(&format!("lava-add-sources {}\n", shell_quote(&source)));
            }
        }
        if !skipped("deps") {
            let mut deps = strings(install.get("deps"));
            if let Some(distro) = ctx
                .node
                .block
                .get("deployment_data")
                .and_then(|d| d.get("distro"))
                .map(scalar)
            {
                deps.extend(strings(install.get(&format!("deps-{distro}"))));
            }
            if !deps.is_empty() {
                let quoted: Vec<String> = deps.iter().map(|d| shell_quote(d)).collect();
                script.push_str(&format!("lava-install-packages {}\n", quoted.join(" ")));
            }
        }
        if !skipped("steps") {
            let steps = strings(install.get("steps"));
            if !steps.is_empty() {
                let results = ctx.job.results_dir(ctx.namespace());
                script.push_str(&format!("cd {}\npwd\n", self.0.device_dir(&results)));
                for step in steps {
                    script.push_str(&step);
                    script.push('\n');
                }
            }
        }
        if !skipped("git-repos") {
            if let Some(Value::Sequence(repos)) = install.get("git-repos") {
                for repo in repos {
                    let (url, branch, dest) = match repo {
                        Value::String(url) => (url.clone(), None, None),
                        other => (
                            other.get("url").map(scalar).unwrap_or_default(),
                            other.get("branch").map(scalar),
                            other.get("destination").map(scalar),
                        ),
                    };
                    let name = dest.unwrap_or_else(|| {
                        url.trim_end_matches('/')
                            .rsplit('/')
                            .next()
                            .unwrap_or("repo")
                            .trim_end_matches(".git")
                            .to_string()
                    });
                    if name.is_empty() || name.contains('/') || name == ".." || name == "." {
                        return Err(Error::job(format!(
                            "Invalid git-repos destination '{name}'"
                        )));
                    }
                    let mut argv = vec!["git".to_string(), "clone".into()];
                    if let Some(b) = branch {
                        argv.extend(["-b".into(), b]);
                    }
                    argv.extend([url.clone(), dir.join(&name).display().to_string()]);
                    host::run(
                        &argv,
                        &ctx.deadline,
                        ctx.cancel,
                        ctx.logger,
                        ErrorKind::Infrastructure,
                    )
                    .map_err(|_| {
                        Error::infrastructure(format!("Unable to fetch git repository '{url}'"))
                    })?;
                }
            }
        }
        write_file(&dir.join("install.sh"), &script, 0o755)?;
        Ok(())
    }
}

/// `test-runscript-overlay`: `run.sh` from the definition's `run.steps`.
#[derive(Debug)]
pub struct TestRunscriptOverlay(DefinitionEntry);

const ABOUT_TEST_RUNSCRIPT_OVERLAY: About = About::new(
    "test-runscript-overlay",
    "overlay run script onto image",
    "applying LAVA test run script",
);

impl Action for TestRunscriptOverlay {
    fn about(&self) -> About {
        ABOUT_TEST_RUNSCRIPT_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (_, root) = staging(ctx)?;
        let dir = self.0.overlay_dir(&root);
        let path = self.0.definition_path(ctx);
        let definition = load_definition(&dir.join(&path))?;
        if self.0.get("name").as_deref() == Some("lava") {
            return Err(Error::test("The test definition name 'lava' is reserved"));
        }
        let results = ctx.job.results_dir(ctx.namespace());
        let kmsg = self.0.get("lava-signal").as_deref() == Some("kmsg");
        let mut script = parameter_block(&self.0, &definition);
        script.push_str("set -e\nset -x\n");
        script.push_str(&format!("export TESTRUN_ID={}\n", self.0.test_name));
        script.push_str(&format!("cd {}\n", self.0.device_dir(&results)));
        script.push_str("UUID=`cat uuid`\nset +x\n");
        if kmsg {
            script.push_str("export KMSG=true\n");
            script.push_str("echo \"<0><LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>\" > /dev/kmsg\n");
        } else {
            script.push_str("echo \"<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>\"\n");
        }
        script.push_str("set -x\n");
        for step in strings(definition.get("run").and_then(|r| r.get("steps"))) {
            let line = escape_positional(&step)?;
            script.push_str(&line);
            script.push('\n');
        }
        script.push_str("set +x\n");
        if kmsg {
            script.push_str("unset KMSG\n");
            script.push_str("echo \"<0><LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>\" > /dev/kmsg\n");
        } else {
            script.push_str("echo \"<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>\"\n");
        }
        write_file(&dir.join("run.sh"), &script, 0o755)?;
        ctx.results.insert("uuid", self.0.uuid.as_str());
        ctx.results
            .insert("filename", dir.join("run.sh").display().to_string());
        ctx.results
            .insert("name", self.0.get("name").unwrap_or_default());
        ctx.results.insert("path", path);
        ctx.results
            .insert("from", self.0.get("from").unwrap_or_default());
        Ok(())
    }
}

/// A `run.steps` line as LAVA writes it to `run.sh`: in a step using
/// `--cmd` or `--shell`, each `$N` (digits, then a word boundary) becomes
/// `\$N`; other steps are kept as they are.
fn escape_positional(step: &str) -> Result<String, Error> {
    if !(step.contains("--cmd") || step.contains("--shell")) {
        return Ok(step.to_string());
    }
    let escape = regex::Regex::new(r"\$(\d+)\b").map_err(|e| Error::bug(e.to_string()))?;
    Ok(escape
        .replace_all(step, |c: &regex::Captures<'_>| format!("\\${}", &c[1]))
        .into_owned())
}

/// `compress-overlay`: `overlay-<level>.tar.gz`.
#[derive(Debug, Default)]
pub struct CompressOverlay;

const ABOUT_COMPRESS_OVERLAY: About = About::new(
    "compress-overlay",
    "Create a lava overlay tarball and store alongside the job",
    "Compress the lava overlay files",
);

impl Action for CompressOverlay {
    fn about(&self) -> About {
        ABOUT_COMPRESS_OVERLAY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (location, _) = staging(ctx)?;
        let results = ctx.job.results_dir(ctx.namespace());
        let relative = results.trim_start_matches('/').to_string();
        let out_dir = ctx.data.mkdtemp("compress-overlay")?;
        let file = out_dir.join(format!("overlay-{}.tar.gz", ctx.node.level));
        let write = || -> std::io::Result<()> {
            let out = std::fs::File::create(&file)?;
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            let mut builder = tar::Builder::new(gz);
            builder.mode(tar::HeaderMode::Deterministic);
            builder.follow_symlinks(false);
            builder.append_dir_all(&relative, location.join(&relative))?;
            builder.into_inner()?.finish()?.sync_all()
        };
        write().map_err(|e| {
            Error::infrastructure(format!("Unable to create the overlay tarball: {e}"))
        })?;
        ctx.logger.debug(format!("Overlay: {}", file.display()));
        ctx.set(
            "compress-overlay",
            "output",
            "file",
            file.display().to_string(),
        );
        Ok(())
    }
}

/// `apply-overlay-guest`: an ext2 disk labelled `LAVA` whose root is the
/// results directory, attached to QEMU as a raw drive.
#[derive(Debug, Default)]
pub struct ApplyOverlayGuest {
    size_mib: u64,
}

const ABOUT_APPLY_OVERLAY_GUEST: About = About::new(
    "apply-overlay-guest",
    "prepare a disk image containing the overlay for the guest",
    "build a guest filesystem for the overlay",
);

impl Action for ApplyOverlayGuest {
    fn about(&self) -> About {
        ABOUT_APPLY_OVERLAY_GUEST
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let size = v
            .job
            .device
            .data
            .get("actions")
            .and_then(|a| a.get("deploy"))
            .and_then(|d| d.get("methods"))
            .and_then(|m| m.get("image"))
            .and_then(|i| i.get("parameters"))
            .and_then(|p| p.get("guest"))
            .and_then(|g| g.get("size"))
            .and_then(|s| s.as_i64().or_else(|| scalar(s).trim().parse().ok()));
        match size {
            Some(s) if s > 0 => self.size_mib = s as u64,
            _ => v.error("Device configuration does not specify size of guest filesystem."),
        }
        host::which("mke2fs")?;
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Ok((_, root)) = staging(ctx) else {
            return Ok(());
        };
        let dir = ctx.data.mkdtemp("apply-overlay-guest")?;
        let file = dir.join("lava-guest.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(self.size_mib * 1024 * 1024))
            .map_err(|e| io_err(&file, e))?;
        let uuid = random_uuid()?;
        let argv: Vec<String> = vec![
            host::which("mke2fs")?.display().to_string(),
            "-q".into(),
            "-F".into(),
            "-t".into(),
            "ext2".into(),
            "-L".into(),
            "LAVA".into(),
            "-U".into(),
            uuid.clone(),
            "-d".into(),
            root.display().to_string(),
            file.display().to_string(),
        ];
        host::run(
            &argv,
            &ctx.deadline,
            ctx.cancel,
            ctx.logger,
            ErrorKind::Infrastructure,
        )?;
        ctx.set(
            "apply-overlay-guest",
            "guest",
            "filename",
            file.display().to_string(),
        );
        ctx.set("apply-overlay-guest", "guest", "UUID", uuid.as_str());
        ctx.results.insert("success", uuid.as_str());
        Ok(())
    }
}

fn random_uuid() -> Result<String, Error> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::infrastructure(format!("/dev/urandom: {e}")))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// `overlay-unpack` (`transfer_overlay`): the device downloads and
/// unpacks the overlay itself.
#[derive(Debug, Default)]
pub struct OverlayUnpack;

const ABOUT_OVERLAY_UNPACK: About = About::new(
    "overlay-unpack",
    "transfer and unpack overlay to persistent rootfs after login",
    "transfer and unpack overlay",
);

impl Action for OverlayUnpack {
    fn about(&self) -> About {
        ABOUT_OVERLAY_UNPACK
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(transfer) = ctx.node.block.get("transfer_overlay").cloned() else {
            return Ok(());
        };
        let Some(session) = ctx.connection() else {
            return Err(Error::job("No connection to transfer the overlay over"));
        };
        let Some(overlay) = ctx.get_str("compress-overlay", "output", "file") else {
            return Err(Error::job("No overlay to transfer: is the deploy missing?"));
        };
        let overlay = PathBuf::from(overlay);
        let relative = overlay
            .strip_prefix(&ctx.job.tmp_dir)
            .map_err(|_| {
                Error::configuration(
                    "The overlay is not inside the dispatcher's download directory",
                )
            })?
            .display()
            .to_string();
        let base = match ctx.job.dispatcher.get("tmp_url").and_then(Value::as_str) {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => {
                let ip = ctx
                    .job
                    .dispatcher
                    .get("dispatcher_ip")
                    .map(scalar)
                    .ok_or_else(|| Error::configuration("transfer_overlay needs dispatcher_ip (or tmp_url) in the dispatcher configuration"))?;
                format!("http://{ip}/tmp")
            }
        };
        let name = overlay
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let download = transfer
            .get("download_command")
            .map(scalar)
            .unwrap_or_default();
        let unpack = transfer
            .get("unpack_command")
            .map(scalar)
            .unwrap_or_default();
        let mut s = crate::connection::lock(&session);
        for command in [
            format!("rm -f {name}"),
            format!("{download} {base}/{relative}"),
            format!("{unpack} {name}"),
        ] {
            s.sendline(&command, ctx.node.character_delay, ctx.cancel)?;
            s.wait_prompt(&ctx.deadline, ctx.cancel)?;
        }
        Ok(())
    }
}

/// `deploy-device-env`: the line separator, the shell start-up file and
/// the DUT environment (only `overrides` of `env-dut`: lava-run's own
/// environment never reaches the device).
#[derive(Debug, Default)]
pub struct DeployDeviceEnv;

const ABOUT_DEPLOY_DEVICE_ENV: About = About::new(
    "deploy-device-env",
    "deploy device environment",
    "deploy device environment",
);

impl Action for DeployDeviceEnv {
    fn about(&self) -> About {
        ABOUT_DEPLOY_DEVICE_ENV
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let ns = v.node.namespace().to_string();
        let separator = v
            .node
            .block
            .get("deployment_data")
            .and_then(|d| d.get("line_separator"))
            .map(scalar)
            .unwrap_or_else(|| "\n".into());
        v.set(
            "deploy-device-env",
            "environment",
            "line_separator",
            separator.as_str(),
        );
        let shell_file = v.job.posix_constant(&ns, "lava_test_shell_file");
        if let Some(text) = v.job.env_dut.clone() {
            let Some(file) = shell_file.filter(|f| !f.is_empty()) else {
                v.error("Invalid deployment data - missing lava_test_shell_file");
                return Ok(());
            };
            match yaml::load(&text) {
                Ok(value) => {
                    let overrides = value
                        .get("overrides")
                        .and_then(Value::as_mapping)
                        .cloned()
                        .unwrap_or_default();
                    v.set(
                        "deploy-device-env",
                        "environment",
                        "shell_file",
                        file.as_str(),
                    );
                    v.set(
                        "deploy-device-env",
                        "environment",
                        "env_dict",
                        Value::Mapping(overrides),
                    );
                }
                Err(e) => v.error(format!("Invalid env-dut: {e}")),
            }
        }
        Ok(())
    }
    fn run(&mut self, _ctx: &mut RunContext<'_>) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::escape_positional;

    #[test]
    fn positional_parameters_of_shell_steps_are_escaped_with_their_number() {
        assert_eq!(
            escape_positional("lava-test-case x --shell awk '{print $2, $10}'").unwrap(),
            r"lava-test-case x --shell awk '{print \$2, \$10}'"
        );
        assert_eq!(
            escape_positional("lava-test-case x --shell echo $1a").unwrap(),
            "lava-test-case x --shell echo $1a"
        );
        assert_eq!(escape_positional("echo $2").unwrap(), "echo $2");
    }
}
